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
	"strings"
	"sync"
	"time"
)

// Keys is a set of API keys kept only as SHA-256 hashes, so a memory dump or
// a leaked config reveals no usable key.
type Keys struct {
	hashes [][sha256.Size]byte
}

// NewKeys hashes the given keys; blank ones are ignored.
func NewKeys(keys ...string) *Keys {
	k := &Keys{}
	for _, s := range keys {
		if s = strings.TrimSpace(s); s != "" {
			k.hashes = append(k.hashes, sha256.Sum256([]byte(s)))
		}
	}
	return k
}

// LoadKeys reads keys from a file (one per line, '#' comments; a line may
// also be "sha256:<hex>" to store only the hash) and from env, a
// comma-separated list (RAGTUNE_API_KEYS). Either may be empty.
func LoadKeys(path, env string) (*Keys, error) {
	k := NewKeys(strings.Split(env, ",")...)
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
		if h, ok := strings.CutPrefix(s, "sha256:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != sha256.Size {
				return fmt.Errorf("%s:%d: sha256: needs 64 hex digits", name, line)
			}
			k.hashes = append(k.hashes, [sha256.Size]byte(b))
			continue
		}
		k.hashes = append(k.hashes, sha256.Sum256([]byte(s)))
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

// Check reports whether key is one of the keys, and a short id for it (a
// hash prefix, safe to log and to key rate limits by). Every stored hash is
// compared, in constant time, so timing reveals neither which key matched
// nor how much of it.
func (k *Keys) Check(key string) (id string, ok bool) {
	h := sha256.Sum256([]byte(key))
	match := 0
	for i := range k.hashes {
		if subtle.ConstantTimeCompare(h[:], k.hashes[i][:]) == 1 {
			match = 1
		}
	}
	return "key:" + hex.EncodeToString(h[:4]), match == 1
}

// bearer extracts the API key from "Authorization: Bearer KEY" (or
// x-api-key, which some clients send).
func bearer(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if v, ok := strings.CutPrefix(a, "Bearer "); ok {
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
