// Package hub downloads model repositories from Hugging Face or ModelScope
// (or a mirror of either) into a plain Hugging Face model directory — the
// layout the rest of ragtune reads. Downloads resume after an interruption
// (HTTP Range into a .part file), are retried with backoff, and are checked
// against the sizes and SHA-256 digests the hub lists.
//
// It only reads from hubs: no uploads, no hub cache layout (blobs and
// snapshot symlinks), no git.
package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Sources.
const (
	HuggingFace = "huggingface"
	ModelScope  = "modelscope"
)

// Default endpoints; HF_ENDPOINT overrides Hugging Face's, as in the
// huggingface_hub library (mirrors such as https://hf-mirror.com).
const (
	DefaultHFEndpoint = "https://huggingface.co"
	DefaultMSEndpoint = "https://www.modelscope.cn"
)

// File is one file of a repository as the hub lists it. Size is -1 and
// SHA256 empty where the hub does not say.
type File struct {
	Path   string
	Size   int64
	SHA256 string
}

// Options configure List and Pull. The zero value pulls the main branch of
// a Hugging Face repository from HF_ENDPOINT or huggingface.co.
type Options struct {
	Source   string // HuggingFace (default) or ModelScope
	Endpoint string // base URL; default per source (HF_ENDPOINT for Hugging Face)
	Revision string // branch, tag or commit; default "main" (HF) or "master" (ModelScope)
	Token    string // bearer token; default HF_TOKEN for Hugging Face
	// RepoType is "model" (default) or, on Hugging Face, "dataset" — for
	// fetching training data such as medical-o1-reasoning-SFT.
	RepoType string
	Include  []string
	// Retries is how many times a failed request is retried (default 4);
	// set Retries to -1 for none. Backoff is the first wait (default 1 s),
	// doubled each time up to 30 s.
	Retries int
	Backoff time.Duration
	Client  *http.Client
	// Progress, when set, gets a progress bar per file (see progress.go).
	Progress io.Writer
}

func (o Options) withDefaults() (Options, error) {
	switch o.Source {
	case "", "hf", HuggingFace:
		o.Source = HuggingFace
		if o.Endpoint == "" {
			o.Endpoint = os.Getenv("HF_ENDPOINT")
		}
		if o.Endpoint == "" {
			o.Endpoint = DefaultHFEndpoint
		}
		if o.Revision == "" {
			o.Revision = "main"
		}
		if o.Token == "" {
			o.Token = os.Getenv("HF_TOKEN")
		}
	case "ms", ModelScope:
		o.Source = ModelScope
		if o.Endpoint == "" {
			o.Endpoint = DefaultMSEndpoint
		}
		if o.Revision == "" {
			o.Revision = "master"
		}
	default:
		return o, fmt.Errorf("unknown hub source %q (use huggingface or modelscope)", o.Source)
	}
	switch o.RepoType {
	case "", "model":
		o.RepoType = "model"
	case "dataset":
		if o.Source != HuggingFace {
			return o, fmt.Errorf("dataset repositories are supported on Hugging Face only")
		}
	default:
		return o, fmt.Errorf("unknown repository type %q (use model or dataset)", o.RepoType)
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("hub endpoint %q is not an http(s) URL", o.Endpoint)
	}
	o.transportDefaults()
	return o, nil
}

// transportDefaults fills the retry and client settings every hub (and
// the Ollama registry) shares: 4 retries (negative: none), a 1 s backoff,
// the default transport.
func (o *Options) transportDefaults() {
	if o.Retries == 0 {
		o.Retries = 4
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: http.DefaultTransport}
	}
}

// ValidRepo reports whether repo looks like "owner/name".
func ValidRepo(repo string) bool {
	owner, name, ok := strings.Cut(repo, "/")
	return ok && owner != "" && name != "" && !strings.Contains(name, "/") &&
		!strings.ContainsAny(repo, " ?#%\\") && owner != ".." && name != ".."
}

// listing is what List learned: the files and, where the hub says, the
// commit they belong to (downloads then pin it, so a push during a long
// download cannot mix two versions).
type listing struct {
	files  []File
	commit string
}

// List returns the repository's files at the revision, filtered by
// Options.Include.
func List(ctx context.Context, repo string, o Options) ([]File, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	l, err := list(ctx, repo, o)
	if err != nil {
		return nil, err
	}
	return l.files, nil
}

func list(ctx context.Context, repo string, o Options) (*listing, error) {
	if !ValidRepo(repo) {
		return nil, fmt.Errorf("repository %q: want OWNER/NAME, e.g. deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", repo)
	}
	var l *listing
	var err error
	if o.Source == ModelScope {
		l, err = listModelScope(ctx, repo, o)
	} else {
		l, err = listHF(ctx, repo, o)
	}
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("list files of %s: %w", repo, err)
	}
	var kept []File
	for _, f := range l.files {
		if err := checkRelPath(f.Path); err != nil {
			return nil, fmt.Errorf("%s lists %w", repo, err)
		}
		if included(f.Path, o.Include) {
			kept = append(kept, f)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Path < kept[j].Path })
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s@%s: no files to download (%d listed; check --include)", repo, o.Revision, len(l.files))
	}
	l.files = kept
	return l, nil
}

// listHF reads GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true,
// the model-info call of huggingface_hub (HfApi.model_info with
// files_metadata=True): {"sha": commit, "siblings": [{"rfilename",
// "size", "lfs": {"sha256", "size"}}]}. Only LFS files carry a SHA-256;
// the others are checked by size. Datasets answer the same call under
// /api/datasets/.
func listHF(ctx context.Context, repo string, o Options) (*listing, error) {
	u := fmt.Sprintf("%s/api/%ss/%s/revision/%s?blobs=true", o.Endpoint, o.RepoType, repo, url.PathEscape(o.Revision))
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			RFilename string `json:"rfilename"`
			Size      *int64 `json:"size"`
			LFS       *struct {
				SHA256 string `json:"sha256"`
				Size   int64  `json:"size"`
			} `json:"lfs"`
		} `json:"siblings"`
	}
	if err := getJSON(ctx, u, o, &info); err != nil {
		return nil, err
	}
	l := &listing{commit: info.SHA}
	for _, s := range info.Siblings {
		f := File{Path: s.RFilename, Size: -1}
		if s.Size != nil {
			f.Size = *s.Size
		}
		if s.LFS != nil {
			f.SHA256 = strings.ToLower(s.LFS.SHA256)
			if f.Size < 0 {
				f.Size = s.LFS.Size
			}
		}
		l.files = append(l.files, f)
	}
	return l, nil
}

// listModelScope reads GET {endpoint}/api/v1/models/{repo}/repo/files?
// Revision={rev}&Recursive=true, as modelscope's HubApi.get_model_files
// does (modelscope/hub/api.py): {"Code": 200, "Data": {"Files": [{"Path",
// "Type": "blob"|"tree", "Size", "Sha256"}]}, "Message", "Success"}.
func listModelScope(ctx context.Context, repo string, o Options) (*listing, error) {
	u := fmt.Sprintf("%s/api/v1/models/%s/repo/files?Revision=%s&Recursive=true", o.Endpoint, repo, url.QueryEscape(o.Revision))
	var resp struct {
		Code    *int   `json:"Code"`
		Message string `json:"Message"`
		Success *bool  `json:"Success"`
		Data    struct {
			Files []struct {
				Path   string `json:"Path"`
				Type   string `json:"Type"`
				Size   int64  `json:"Size"`
				Sha256 string `json:"Sha256"`
			} `json:"Files"`
		} `json:"Data"`
	}
	if err := getJSON(ctx, u, o, &resp); err != nil {
		return nil, err
	}
	if (resp.Code != nil && *resp.Code != 200) || (resp.Success != nil && !*resp.Success) {
		return nil, fmt.Errorf("list %s on ModelScope: %s", repo, resp.Message)
	}
	l := &listing{}
	for _, f := range resp.Data.Files {
		if f.Type == "tree" {
			continue
		}
		l.files = append(l.files, File{Path: f.Path, Size: f.Size, SHA256: strings.ToLower(f.Sha256)})
	}
	return l, nil
}

// fileURL is where one file is downloaded: HF's resolve URL (which may
// redirect to a CDN), or ModelScope's repo API with FilePath.
func fileURL(repo, rev, p string, o Options) string {
	if o.Source == ModelScope {
		return fmt.Sprintf("%s/api/v1/models/%s/repo?Revision=%s&FilePath=%s", o.Endpoint, repo, url.QueryEscape(rev), url.QueryEscape(p))
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	prefix := ""
	if o.RepoType == "dataset" {
		prefix = "datasets/"
	}
	return fmt.Sprintf("%s/%s%s/resolve/%s/%s", o.Endpoint, prefix, repo, url.PathEscape(rev), strings.Join(segs, "/"))
}

func checkRelPath(p string) error {
	if p == "" || path.IsAbs(p) || strings.Contains(p, "\\") || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("an unsafe file path %q", p)
	}
	return nil
}

// included matches a path against the globs, by full path or base name.
func included(p string, globs []string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
		if ok, _ := path.Match(g, path.Base(p)); ok {
			return true
		}
	}
	return false
}

// HTTPError is a response the hub refused with.
type HTTPError struct {
	URL    string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = " (a gated or private repository needs a token: set HF_TOKEN or pass --token)"
	case http.StatusNotFound:
		hint = " (check the repository name, --revision and --source)"
	}
	body := strings.TrimSpace(e.Body)
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	if body != "" {
		body = ": " + body
	}
	return fmt.Sprintf("GET %s: HTTP %d%s%s", e.URL, e.Status, body, hint)
}

// UnreachableError says the hub could not be reached at all: its name did
// not resolve or there is no route to it. Retrying within seconds does not
// help (an offline machine stays offline), so it is returned at once with
// the ways around it.
type UnreachableError struct {
	Endpoint, Source string
	Err              error
}

func (e *UnreachableError) Error() string {
	hint := "set HF_ENDPOINT to a mirror (e.g. HF_ENDPOINT=https://hf-mirror.com), try --source modelscope, or copy the model directory from a machine that is online"
	if e.Source == ModelScope {
		hint = "try --source huggingface, with HF_ENDPOINT set to a mirror if huggingface.co is blocked (e.g. https://hf-mirror.com), or copy the model directory from a machine that is online"
	}
	return fmt.Sprintf("cannot reach %s: %v (offline? %s)", e.Endpoint, e.Err, hint)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// unreachable picks out the network errors that mean the host cannot be
// reached at all (name resolution, no route), as opposed to a server that
// failed one request.
func unreachable(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
		return err
	}
	return nil
}

// retryable reports whether a failure may pass on its own.
func retryable(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	var ue *UnreachableError
	if errors.As(err, &ue) || unreachable(err) != nil {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errChecksum)
}

// withRetry runs fn until it succeeds, fails for good, or the retries are
// spent, waiting Backoff, 2×Backoff, … (at most 30 s) in between.
func withRetry(ctx context.Context, o Options, what string, fn func() error) error {
	wait := o.Backoff
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt >= o.Retries || !retryable(err) {
			return err
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s: %v; retrying in %s\n", what, err, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func newRequest(ctx context.Context, u string, o Options) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ragtune-hub/1")
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	return req, nil
}

func getJSON(ctx context.Context, u string, o Options, v any) error {
	return withRetry(ctx, o, "list files", func() error {
		req, err := newRequest(ctx, u, o)
		if err != nil {
			return err
		}
		resp, err := o.Client.Do(req)
		if err != nil {
			if why := unreachable(err); why != nil {
				return &UnreachableError{Endpoint: o.Endpoint, Source: o.Source, Err: why}
			}
			return err // withRetry and list say what was being done
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return &HTTPError{URL: u, Status: resp.StatusCode, Body: string(b)}
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
			return fmt.Errorf("read %s: %w", u, err)
		}
		return nil
	})
}

var errChecksum = errors.New("checksum mismatch")

// Result says what Pull did.
type Result struct {
	Dir        string
	Commit     string // the commit the hub resolved the revision to, if it said
	Files      []File
	Downloaded int   // files fetched (fully or resumed)
	Skipped    int   // files already present and verified
	Bytes      int64 // bytes transferred
}

// Pull downloads the repository's files into dir (created), keeping their
// paths. A file already in dir with the listed size and digest is kept; a
// partial download (dir/PATH.part) is resumed with an HTTP Range request.
// A file whose size or SHA-256 does not match the listing is deleted and
// reported; it never lands under its final name.
func Pull(ctx context.Context, repo, dir string, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	l, err := list(ctx, repo, o)
	if err != nil {
		return nil, err
	}
	rev := o.Revision
	if l.commit != "" {
		rev = l.commit
	}
	res := &Result{Dir: dir, Commit: l.commit, Files: l.files}
	for _, f := range l.files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		if ok, err := present(dst, f); err != nil {
			return res, err
		} else if ok {
			res.Skipped++
			continue
		}
		n, err := download(ctx, fileURL(repo, rev, f.Path, o), dst, f, o)
		res.Bytes += n
		if err != nil {
			return res, fmt.Errorf("download %s from %s: %w", f.Path, repo, err)
		}
		res.Downloaded++
	}
	return res, nil
}

// present reports whether dst already holds f (size, then digest).
func present(dst string, f File) (bool, error) {
	st, err := os.Stat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.IsDir() || (f.Size >= 0 && st.Size() != f.Size) {
		return false, nil
	}
	if f.SHA256 == "" {
		return true, nil
	}
	sum, err := fileSHA256(dst)
	if err != nil {
		return false, err
	}
	return sum == f.SHA256, nil
}

func fileSHA256(p string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// download fetches u into dst via dst.part, resuming what a previous
// attempt left there, then verifies and renames. It returns the bytes
// transferred.
func download(ctx context.Context, u, dst string, f File, o Options) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	part := dst + ".part"
	bar := newBar(o.Progress, f)
	defer bar.finish()
	var total int64
	err := withRetry(ctx, o, f.Path, func() error {
		n, err := fetchOnce(ctx, u, part, f, o, bar)
		total += n
		return err
	})
	if err != nil {
		return total, err
	}
	st, err := os.Stat(part)
	if err != nil {
		return total, err
	}
	if f.Size >= 0 && st.Size() != f.Size {
		os.Remove(part)
		return total, fmt.Errorf("%w: got %d bytes, the hub lists %d; the partial file was removed, run again", errChecksum, st.Size(), f.Size)
	}
	if f.SHA256 != "" {
		sum, err := fileSHA256(part)
		if err != nil {
			return total, err
		}
		if sum != f.SHA256 {
			os.Remove(part)
			return total, fmt.Errorf("%w: sha256 %s, the hub lists %s; the corrupt file was removed — run again, and if it repeats, the mirror serves a different file than it lists", errChecksum, sum, f.SHA256)
		}
	}
	if err := os.Rename(part, dst); err != nil {
		return total, err
	}
	return total, nil
}

// fetchOnce makes one request, asking for the bytes after what part holds.
func fetchOnce(ctx context.Context, u, part string, f File, o Options, bar *fileBar) (int64, error) {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	if f.Size >= 0 && have > f.Size {
		// More than the file's size: not a prefix of this file.
		if err := os.Remove(part); err != nil {
			return 0, err
		}
		have = 0
	}
	if f.Size >= 0 && have == f.Size && f.Size > 0 {
		bar.set(have)
		return 0, nil // complete; verified by the caller
	}
	req, err := newRequest(ctx, u, o)
	if err != nil {
		return 0, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		var start int64 = -1
		fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start)
		if start != have {
			return 0, fmt.Errorf("resume: asked for bytes from %d, got Content-Range %q", have, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		// The server ignored the Range header: start over.
		flags |= os.O_TRUNC
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0 && f.Size < 0:
		return 0, nil // nothing past what we have: complete
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, &HTTPError{URL: u, Status: resp.StatusCode, Body: string(b)}
	}
	fh, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return 0, err
	}
	bar.set(have)
	n, copyErr := io.Copy(fh, bar.reader(resp.Body))
	syncErr := fh.Sync()
	closeErr := fh.Close()
	if copyErr != nil {
		return n, fmt.Errorf("after %d bytes: %w", have+n, copyErr)
	}
	if syncErr != nil {
		return n, syncErr
	}
	return n, closeErr
}
