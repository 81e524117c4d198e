package server

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Scope is what a key may do. Scopes nest: write includes read, admin
// includes both.
type Scope int

const (
	// ScopeRead may chat, complete, embed, list models, and list, read and
	// query the knowledge bases it owns or that are shared.
	ScopeRead Scope = iota + 1
	// ScopeWrite may also create knowledge bases (which it then owns),
	// upload to and delete from its own, and delete them.
	ScopeWrite
	// ScopeAdmin may do anything to every knowledge base, and read
	// /metrics and /reports/.
	ScopeAdmin
)

func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeWrite:
		return "write"
	case ScopeAdmin:
		return "admin"
	}
	return "none"
}

// ParseScope reads a scope name; "query" is a synonym of "read".
func ParseScope(name string) (Scope, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "read", "query":
		return ScopeRead, nil
	case "write":
		return ScopeWrite, nil
	case "admin":
		return ScopeAdmin, nil
	}
	return 0, fmt.Errorf("unknown scope %q (use read, write or admin)", name)
}

// MinKeyLength is the shortest key LoadKeys and NewKeys accept: shorter
// ones can be guessed online, throttling or not.
const MinKeyLength = 16

// Key is one API key's identity: its name (recorded as the owner of the
// knowledge bases it creates, used in logs and rate limits) and scope.
type Key struct {
	Name  string
	Scope Scope
}

// Keys is a set of API keys kept only as SHA-256 hashes, so a memory dump or
// a leaked config reveals no usable key.
type Keys struct {
	hashes [][sha256.Size]byte
	keys   []Key // parallel to hashes
}

// NewKeys holds plain keys, each with the admin scope (what a key meant
// before scopes existed); blank ones are ignored. A key shorter than
// MinKeyLength is an error.
func NewKeys(keys ...string) (*Keys, error) {
	k := &Keys{}
	for i, s := range keys {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if err := k.addPlain(s); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
	}
	return k, nil
}

// AddKey adds a named key with a scope (for embedding the server).
func (k *Keys) AddKey(name, key string, scope Scope) error {
	if len(key) < MinKeyLength {
		return fmt.Errorf("key %q is shorter than %d characters: generate one with 'openssl rand -hex 24'", name, MinKeyLength)
	}
	return k.add(name, sha256.Sum256([]byte(key)), scope)
}

func (k *Keys) addPlain(key string) error {
	if len(key) < MinKeyLength {
		return fmt.Errorf("a key is shorter than %d characters: generate one with 'openssl rand -hex 24'", MinKeyLength)
	}
	h := sha256.Sum256([]byte(key))
	return k.add(plainName(h), h, ScopeAdmin)
}

// plainName names an unnamed key by a prefix of its hash: stable across
// restarts (it owns knowledge bases by it) and useless to an attacker.
func plainName(h [sha256.Size]byte) string { return "key-" + hex.EncodeToString(h[:4]) }

var keyNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func (k *Keys) add(name string, h [sha256.Size]byte, scope Scope) error {
	if !keyNameRe.MatchString(name) {
		return fmt.Errorf("key name %q: use letters, digits, '.', '_', '@' and '-' (at most 64)", name)
	}
	for i, o := range k.keys {
		if o.Name == name && k.hashes[i] != h {
			return fmt.Errorf("key name %q is used twice", name)
		}
	}
	k.hashes = append(k.hashes, h)
	k.keys = append(k.keys, Key{Name: name, Scope: scope})
	return nil
}

// LoadKeys reads keys from a file and from env, a comma-separated list of
// plain keys (RAGTUNE_API_KEYS). Either may be empty. Each line of the
// file is blank, a '#' comment, or one of
//
//	KEY                      a plain key: scope admin (full access)
//	NAME KEY SCOPE           a named key with scope read, write or admin
//
// where KEY may be written "sha256:<64 hex digits>" to keep only its hash
// in the file. Keys shorter than MinKeyLength are refused.
func LoadKeys(path, env string) (*Keys, error) {
	k, err := NewKeys(strings.Split(env, ",")...)
	if err != nil {
		return nil, fmt.Errorf("RAGTUNE_API_KEYS: %w", err)
	}
	if path == "" {
		return k, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read API keys: %w", err)
	}
	defer f.Close()
	if err := k.read(f, path); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keys) read(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		fields := strings.Fields(s)
		keyName, key, scope := "", fields[0], ScopeAdmin
		switch len(fields) {
		case 1:
		case 3:
			keyName, key = fields[0], fields[1]
			var err error
			if scope, err = ParseScope(fields[2]); err != nil {
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
		default:
			return fmt.Errorf("%s:%d: a line is KEY, or NAME KEY SCOPE (read, write or admin); found %d fields", name, line, len(fields))
		}
		var h [sha256.Size]byte
		if hx, ok := strings.CutPrefix(key, "sha256:"); ok {
			b, err := hex.DecodeString(hx)
			if err != nil || len(b) != sha256.Size {
				return fmt.Errorf("%s:%d: sha256: needs 64 hex digits", name, line)
			}
			h = [sha256.Size]byte(b)
		} else {
			if len(key) < MinKeyLength {
				return fmt.Errorf("%s:%d: the key is shorter than %d characters: generate one with 'openssl rand -hex 24'", name, line, MinKeyLength)
			}
			h = sha256.Sum256([]byte(key))
		}
		if keyName == "" {
			keyName = plainName(h)
		}
		if err := k.add(keyName, h, scope); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read API keys %s: %w", name, err)
	}
	return nil
}

// Len is the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.hashes)
}

// Check reports whether key is one of the keys, and which. Every stored
// hash is compared, in constant time, so timing reveals neither which key
// matched nor how much of it.
func (k *Keys) Check(key string) (Key, bool) {
	h := sha256.Sum256([]byte(key))
	match := -1
	for i := range k.hashes {
		if subtle.ConstantTimeCompare(h[:], k.hashes[i][:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return Key{}, false
	}
	return k.keys[match], true
}

// bearer extracts the API key from "Authorization: Bearer KEY" (the scheme
// in any case, as RFC 9110 says) or x-api-key, which some clients send.
func bearer(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, v, ok := strings.Cut(strings.TrimSpace(a), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(v)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-Api-Key"))
}

// IsLoopback reports whether a listen address binds only the loopback
// interface. An empty host (":8080") binds every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rateLimiter is a token bucket per client: each refills at rate tokens a
// second up to burst, and each request takes one.
type rateLimiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if b < 1 {
		b = math.Max(1, math.Ceil(2*rate))
	}
	return &rateLimiter{rate: rate, burst: b, buckets: map[string]*bucket{}}
}

// allow takes a token for client, or says how long until one is there.
func (l *rateLimiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Buckets that have refilled are equivalent to new ones: drop them now
	// and then, so clients that come and go do not grow the map forever.
	if now.Sub(l.sweep) > time.Minute {
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b := l.buckets[client]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// Failed authentication is throttled per client address, before any key
// is checked: each failure takes a token from a bucket of
// authFailBurst refilling at authFailRate a second, and an empty bucket
// answers 429 until it refills. Honest clients with the right key never
// touch it; guessing is cut to about one try a second per address.
const (
	authFailRate  = 1.0
	authFailBurst = 10
)

// peek reports whether client has a token left, without taking it, and
// how long until one is there.
func (l *rateLimiter) peek(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[client]
	if b == nil {
		return true, 0
	}
	tokens := math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / l.rate * float64(time.Second))
}
