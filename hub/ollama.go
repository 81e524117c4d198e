package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"ragtune/internal/atomicfile"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Ollama keeps models as content-addressed blobs plus one manifest per
// name: $OLLAMA_MODELS (default ~/.ollama/models) holds
// manifests/HOST/NAMESPACE/MODEL/TAG (a Docker-style image manifest) and
// blobs/sha256-HEX. The layer of media type OllamaModelMedia is the GGUF
// file itself, so ragtune runs an Ollama model straight from its blob.
// Its registry serves the same manifest and blobs over HTTP:
// GET /v2/NAMESPACE/MODEL/manifests/TAG and /v2/NAMESPACE/MODEL/blobs/DIGEST.

// Ollama defaults and layer media types.
const (
	OllamaRegistry      = "registry.ollama.ai"
	OllamaModelMedia    = "application/vnd.ollama.image.model"
	OllamaTemplateMedia = "application/vnd.ollama.image.template"
	OllamaParamsMedia   = "application/vnd.ollama.image.params"
	ollamaManifestMedia = "application/vnd.docker.distribution.manifest.v2+json"
)

// OllamaName is a parsed Ollama model name: "deepseek-r1:1.5b" is
// registry.ollama.ai/library/deepseek-r1:1.5b.
type OllamaName struct {
	Host, Namespace, Model, Tag string
}

var (
	ollamaPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)
	ollamaHost = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]+)?$`)
)

// ParseOllamaName reads "MODEL[:TAG]", "NAMESPACE/MODEL[:TAG]" or
// "HOST/NAMESPACE/MODEL[:TAG]"; an "ollama:" prefix is allowed. The tag
// defaults to "latest", the namespace to "library".
func ParseOllamaName(s string) (OllamaName, error) {
	s = strings.TrimPrefix(s, "ollama:")
	n := OllamaName{Host: OllamaRegistry, Namespace: "library", Tag: "latest"}
	rest := s
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		rest, n.Tag = rest[:i], rest[i+1:]
	}
	parts := strings.Split(rest, "/")
	switch len(parts) {
	case 1:
		n.Model = parts[0]
	case 2:
		n.Namespace, n.Model = parts[0], parts[1]
	case 3:
		n.Host, n.Namespace, n.Model = parts[0], parts[1], parts[2]
	default:
		return n, fmt.Errorf("Ollama model name %q: want MODEL[:TAG], e.g. deepseek-r1:1.5b", s)
	}
	for _, p := range []string{n.Namespace, n.Model, n.Tag} {
		if !ollamaPart.MatchString(p) {
			return n, fmt.Errorf("Ollama model name %q: want MODEL[:TAG], e.g. deepseek-r1:1.5b", s)
		}
	}
	if !ollamaHost.MatchString(n.Host) {
		return n, fmt.Errorf("Ollama model name %q: bad registry host %q", s, n.Host)
	}
	return n, nil
}

// String is the name as Ollama prints it (the default host and namespace
// left out).
func (n OllamaName) String() string {
	s := n.Model + ":" + n.Tag
	if n.Namespace != "library" || n.Host != OllamaRegistry {
		s = n.Namespace + "/" + s
	}
	if n.Host != OllamaRegistry {
		s = n.Host + "/" + s
	}
	return s
}

// OllamaModelsDir is Ollama's store: $OLLAMA_MODELS, else ~/.ollama/models.
func OllamaModelsDir() string {
	if d := os.Getenv("OLLAMA_MODELS"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".ollama", "models")
	}
	return filepath.Join(home, ".ollama", "models")
}

// ollamaManifest is the part of Ollama's image manifest ragtune uses.
type ollamaManifest struct {
	SchemaVersion int           `json:"schemaVersion"`
	MediaType     string        `json:"mediaType"`
	Config        ollamaLayer   `json:"config"`
	Layers        []ollamaLayer `json:"layers"`
}

type ollamaLayer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// OllamaModel is a model in an Ollama store.
type OllamaModel struct {
	Name     OllamaName
	GGUF     string // path of the model blob (a GGUF file)
	Size     int64  // bytes of the model blob
	Template string // path of the template blob, "" if none
	Params   string // path of the params blob (JSON), "" if none
}

func (n OllamaName) manifestPath(store string) string {
	return filepath.Join(store, "manifests", n.Host, n.Namespace, n.Model, n.Tag)
}

func blobPath(store, digest string) string {
	return filepath.Join(store, "blobs", strings.Replace(digest, ":", "-", 1))
}

// ErrOllamaNotFound is returned (wrapped) when the store has no manifest
// for a name.
var ErrOllamaNotFound = errors.New("not in the Ollama store")

// ResolveOllama finds name in the Ollama store (OllamaModelsDir when store
// is ""): its manifest, then the model layer's blob.
func ResolveOllama(store string, name OllamaName) (*OllamaModel, error) {
	if store == "" {
		store = OllamaModelsDir()
	}
	raw, err := os.ReadFile(name.manifestPath(store))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("Ollama model %s: %w at %s; run 'ragtune model pull ollama:%s' (or 'ollama pull %s')", name, ErrOllamaNotFound, store, name, name)
	}
	if err != nil {
		return nil, fmt.Errorf("Ollama model %s: %w", name, err)
	}
	m, err := parseOllamaManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("Ollama model %s: manifest %s: %w", name, name.manifestPath(store), err)
	}
	return ollamaModelFrom(store, name, m)
}

func parseOllamaManifest(raw []byte) (*ollamaManifest, error) {
	var m ollamaManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for _, l := range append([]ollamaLayer{m.Config}, m.Layers...) {
		if l.Digest != "" && !digestRE.MatchString(l.Digest) {
			return nil, fmt.Errorf("layer digest %q is not sha256:HEX", l.Digest)
		}
	}
	return &m, nil
}

func ollamaModelFrom(store string, name OllamaName, m *ollamaManifest) (*OllamaModel, error) {
	om := &OllamaModel{Name: name}
	for _, l := range m.Layers {
		switch l.MediaType {
		case OllamaModelMedia:
			if om.GGUF != "" {
				return nil, fmt.Errorf("Ollama model %s has several model layers (a vision projector or adapter?); ragtune runs single-file language models", name)
			}
			om.GGUF, om.Size = blobPath(store, l.Digest), l.Size
		case OllamaTemplateMedia:
			om.Template = blobPath(store, l.Digest)
		case OllamaParamsMedia:
			om.Params = blobPath(store, l.Digest)
		}
	}
	if om.GGUF == "" {
		return nil, fmt.Errorf("Ollama model %s has no model layer (%s)", name, OllamaModelMedia)
	}
	if st, err := os.Stat(om.GGUF); err != nil {
		return nil, fmt.Errorf("Ollama model %s: its model blob is missing (%w); pull it again", name, err)
	} else if l := om.Size; l > 0 && st.Size() != l {
		return nil, fmt.Errorf("Ollama model %s: model blob %s has %d bytes, the manifest says %d; pull it again", name, om.GGUF, st.Size(), l)
	}
	return om, nil
}

// ListOllama returns every model whose manifest and model blob are in the
// store (OllamaModelsDir when store is ""), sorted by name. A store that
// does not exist holds no models.
func ListOllama(store string) ([]*OllamaModel, error) {
	if store == "" {
		store = OllamaModelsDir()
	}
	root := filepath.Join(store, "manifests")
	var out []*OllamaModel
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 4 {
			return nil
		}
		name := OllamaName{Host: parts[0], Namespace: parts[1], Model: parts[2], Tag: parts[3]}
		if m, err := ResolveOllama(store, name); err == nil {
			out = append(out, m)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list Ollama models in %s: %w", store, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name.String() < out[j].Name.String() })
	return out, nil
}

// OllamaOptions configure PullOllama.
type OllamaOptions struct {
	// Registry is the base URL (default https://registry.ollama.ai, or
	// https://HOST for a name that names its host).
	Registry string
	// Store is the Ollama store to pull into (default OllamaModelsDir), so
	// Ollama itself sees the model too.
	Store string
	// Retries, Backoff, Client and Progress as in Options.
	Retries  int
	Backoff  time.Duration
	Client   *http.Client
	Progress io.Writer
}

// PullOllama downloads name from an Ollama registry into the store: the
// manifest, then every blob it lists (model, template, params, license,
// config), each resumed from a .part file after an interruption and
// checked against its sha256 digest; the manifest is written last, so a
// store never names a model whose blobs are incomplete.
func PullOllama(ctx context.Context, name OllamaName, o OllamaOptions) (*OllamaModel, *Result, error) {
	if o.Store == "" {
		o.Store = OllamaModelsDir()
	}
	if o.Registry == "" {
		o.Registry = "https://" + name.Host
	}
	ho := Options{Source: "ollama", Endpoint: strings.TrimRight(o.Registry, "/"), Retries: o.Retries, Backoff: o.Backoff,
		Client: o.Client, Progress: o.Progress}
	ho.transportDefaults()
	base := ho.Endpoint + "/v2/" + name.Namespace + "/" + name.Model
	raw, err := fetchOllamaManifest(ctx, base+"/manifests/"+name.Tag, ho)
	if err != nil {
		return nil, nil, fmt.Errorf("pull Ollama model %s: %w", name, err)
	}
	m, err := parseOllamaManifest(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("pull Ollama model %s: manifest: %w", name, err)
	}
	res := &Result{Dir: o.Store}
	layers := m.Layers
	if m.Config.Digest != "" {
		layers = append([]ollamaLayer{m.Config}, layers...)
	}
	for _, l := range layers {
		if l.Digest == "" {
			continue
		}
		f := File{Path: l.Digest, Size: l.Size, SHA256: strings.TrimPrefix(l.Digest, "sha256:")}
		res.Files = append(res.Files, f)
		dst := blobPath(o.Store, l.Digest)
		if ok, err := present(dst, f); err != nil {
			return nil, res, err
		} else if ok {
			res.Skipped++
			continue
		}
		n, err := download(ctx, base+"/blobs/"+l.Digest, dst, f, ho)
		res.Bytes += n
		if err != nil {
			return nil, res, fmt.Errorf("pull Ollama model %s: blob %s: %w", name, l.Digest, err)
		}
		res.Downloaded++
	}
	mp := name.manifestPath(o.Store)
	if err := os.MkdirAll(filepath.Dir(mp), 0o755); err != nil {
		return nil, res, err
	}
	if err := atomicfile.WriteFile(mp, raw); err != nil {
		return nil, res, fmt.Errorf("write Ollama manifest: %w", err)
	}
	om, err := ollamaModelFrom(o.Store, name, m)
	return om, res, err
}

func fetchOllamaManifest(ctx context.Context, u string, o Options) ([]byte, error) {
	var raw []byte
	err := withRetry(ctx, o, "fetch manifest", func() error {
		req, err := newRequest(ctx, u, o)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", ollamaManifestMedia)
		resp, err := o.Client.Do(req)
		if err != nil {
			if why := unreachable(err); why != nil {
				return fmt.Errorf("cannot reach %s: %w (offline? copy the Ollama store, %s, from a machine that is online, or pass --registry with a mirror)", o.Endpoint, why, OllamaModelsDir())
			}
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return &HTTPError{URL: u, Status: resp.StatusCode, Body: string(b)}
		}
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		return err
	})
	return raw, err
}
