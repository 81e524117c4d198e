package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"ragtune/internal/atomicfile"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"ragtune/openai"
	"ragtune/rag"
)

// validKBName is the commands' knowledge-base name rule (rag.ValidKBName:
// letters, digits, '.', '_' and '-', never a path), with the HTTP API's
// own limit of 64 characters.
func validKBName(name string) bool {
	return rag.ValidKBName(name) && utf8.RuneCountInString(name) <= 64
}

// uploadsDir holds uploaded files inside a knowledge base's directory,
// each stored as <id><ext> with a <id>.json sidecar carrying the name the
// client gave. The client's name is metadata, never part of a path.
const uploadsDir = "uploads"

type kbManager struct {
	root       string
	embed      rag.Embedder
	embedURL   string
	embedModel string
	embedPath  string // local encoder, recorded instead of embedURL

	mu      sync.Mutex
	handles map[string]*kbHandle
}

type kbHandle struct {
	name   string
	store  *rag.Store
	access kbAccess // guarded by kbManager.mu
	// writeMu orders document deletes with the removal of their stored
	// files; uploads do not take it (rag.Store.AddDocuments extracts,
	// chunks and embeds without a lock and commits under its own).
	writeMu sync.Mutex
	// life is shared by uploads in flight, which write into the
	// directory, and taken whole by the knowledge base's deletion, which
	// sets removed: an upload never writes into a directory being
	// deleted, and one that comes after finds removed and answers 404.
	life    sync.RWMutex
	removed bool
}

// accessFile records, inside a knowledge base's directory, which API key
// created it and whether other keys may read it. A knowledge base
// without one (made by 'ragtune ingest', or before keys had scopes) is
// readable by every key and writable by admin keys only.
const accessFile = "access.json"

type kbAccess struct {
	Owner  string `json:"owner,omitempty"`
	Shared bool   `json:"shared,omitempty"`
}

func readAccess(dir string) kbAccess {
	var a kbAccess
	if b, err := os.ReadFile(filepath.Join(dir, accessFile)); err == nil {
		if json.Unmarshal(b, &a) != nil {
			// A damaged record must not open the knowledge base to
			// everyone: keep it for admin keys.
			a = kbAccess{Owner: "\x00damaged"}
		}
	}
	return a
}

func newKBManager(root string, embed rag.Embedder, url, model, path string) *kbManager {
	return &kbManager{root: root, embed: embed, embedURL: url, embedModel: model, embedPath: path, handles: map[string]*kbHandle{}}
}

var errBadKBName = errors.New("invalid knowledge base name")

// errKBExists is creating a knowledge base whose name is taken.
var errKBExists = errors.New("knowledge base already exists")

func (m *kbManager) dir(name string) (string, error) {
	if !validKBName(name) || strings.Contains(name, "..") {
		return "", fmt.Errorf("%w %q: use letters, digits, '.', '_' and '-' (at most 64)", errBadKBName, name)
	}
	return filepath.Join(m.root, name), nil
}

// open returns the open knowledge base, opening it (or creating it, owned
// by owner, when create is set) on first use. It stays open until
// closeAll. Existing knowledge bases open shared (rag.OpenShared): while
// a 'ragtune ingest' or another server holds one, reads follow that
// writer and writes fail with rag.ErrLocked until it is done.
func (m *kbManager) open(name string, create bool, owner ...kbAccess) (*kbHandle, error) {
	dir, err := m.dir(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.handles[name]; h != nil {
		if create {
			return nil, fmt.Errorf("%w: %q", errKBExists, name)
		}
		return h, nil
	}
	var st *rag.Store
	var access kbAccess
	if create {
		if _, err := rag.ReadStoreConfig(dir); err == nil {
			return nil, fmt.Errorf("%w: %q", errKBExists, name)
		}
		cfg := rag.StoreConfig{Name: name, ChunkSize: 512, Overlap: 64}
		switch {
		case m.embed != nil && m.embedURL != "":
			cfg.Embedding = &rag.EmbeddingConfig{URL: m.embedURL, Model: m.embedModel}
		case m.embed != nil && m.embedPath != "":
			cfg.Embedding = &rag.EmbeddingConfig{Path: m.embedPath}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create knowledge base: %w", err)
		}
		if len(owner) > 0 {
			access = owner[0]
		}
		// The owner is on disk before the knowledge base exists, so a
		// crash in between never leaves an unowned one behind.
		if access != (kbAccess{}) {
			b, _ := json.Marshal(access)
			if err := atomicfile.WriteFile(filepath.Join(dir, accessFile), b); err != nil {
				return nil, fmt.Errorf("create knowledge base: %w", err)
			}
		}
		st, err = rag.CreateStore(dir, cfg)
	} else {
		var embed rag.Embedder
		if cfg, cerr := rag.ReadStoreConfig(dir); cerr == nil && cfg.Embedding != nil &&
			cfg.Embedding.URL == m.embedURL && cfg.Embedding.Path == m.embedPath {
			embed = m.embed
		}
		st, err = rag.OpenShared(dir, embed)
		access = readAccess(dir)
	}
	if err != nil {
		return nil, err
	}
	h := &kbHandle{name: name, store: st, access: access}
	m.handles[name] = h
	return h, nil
}

// accessOf is a knowledge base's owner record, from the open handle or
// its directory.
func (m *kbManager) accessOf(name string) kbAccess {
	m.mu.Lock()
	h := m.handles[name]
	var a kbAccess
	if h != nil {
		a = h.access
	}
	m.mu.Unlock()
	if h != nil {
		return a
	}
	dir, err := m.dir(name)
	if err != nil {
		return kbAccess{}
	}
	return readAccess(dir)
}

// setShared records whether keys other than the owner may read name.
func (m *kbManager) setShared(h *kbHandle, shared bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := h.access
	a.Shared = shared
	b, _ := json.Marshal(a)
	if err := atomicfile.WriteFile(filepath.Join(h.store.Dir(), accessFile), b); err != nil {
		return fmt.Errorf("record sharing: %w", err)
	}
	h.access = a
	return nil
}

func (m *kbManager) list() []string {
	entries, _ := os.ReadDir(m.root)
	var out []string
	for _, e := range entries {
		if !e.IsDir() || !validKBName(e.Name()) {
			continue
		}
		if _, err := rag.ReadStoreConfig(filepath.Join(m.root, e.Name())); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// peek describes a knowledge base without taking its writer lock when the
// server has not opened it yet, so listing does not block a
// 'ragtune ingest' running in another process.
func (m *kbManager) peek(name string) (kbInfo, bool) {
	m.mu.Lock()
	h := m.handles[name]
	m.mu.Unlock()
	if h != nil {
		return infoOf(h), true
	}
	dir, err := m.dir(name)
	if err != nil {
		return kbInfo{}, false
	}
	st, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return kbInfo{}, false
	}
	defer st.Close()
	return infoOf(&kbHandle{name: name, store: st}), true
}

// remove deletes a knowledge base. Its directory is first renamed to a
// name no knowledge base can have, under the manager's lock, so a request
// racing the delete finds either the whole knowledge base or none (404),
// never a half-removed one; the files go after.
func (m *kbManager) remove(name string) error {
	dir, err := m.dir(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	h := m.handles[name]
	m.mu.Unlock()
	if h != nil {
		h.life.Lock() // waits for uploads in flight
		h.removed = true
		defer h.life.Unlock()
	}
	m.mu.Lock()
	if h := m.handles[name]; h != nil {
		h.writeMu.Lock()
		h.store.Close()
		h.writeMu.Unlock()
		delete(m.handles, name)
	}
	if _, err := rag.ReadStoreConfig(dir); err != nil {
		m.mu.Unlock()
		return err
	}
	var b [6]byte
	rand.Read(b[:])
	grave := filepath.Join(m.root, ".deleted-"+hex.EncodeToString(b[:]))
	err = os.Rename(dir, grave)
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete knowledge base: %w", err)
	}
	if err := rag.DropRemoteOf(context.Background(), grave); err != nil {
		return fmt.Errorf("delete knowledge base %s: %w", name, err)
	}
	return os.RemoveAll(grave)
}

func (m *kbManager) openCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.handles)
}

func (m *kbManager) closeAll() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for name, h := range m.handles {
		h.writeMu.Lock()
		errs = append(errs, h.store.Close())
		h.writeMu.Unlock()
		delete(m.handles, name)
	}
	return errors.Join(errs...)
}

// uploadMeta is an uploaded document's sidecar.
type uploadMeta struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Bytes    int64     `json:"bytes"`
	SHA256   string    `json:"sha256"`
	Uploaded time.Time `json:"uploaded"`
}

// docInfo describes one document of a knowledge base for the API.
type docInfo struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Title    string    `json:"title,omitempty"`
	Chunks   int       `json:"chunks"`
	Bytes    int64     `json:"bytes"`
	Uploaded time.Time `json:"uploaded,omitzero"`
	path     string
}

// docID names a document in URLs: an upload's own id, or for a file the
// CLI ingested a hash of its path (the path itself stays on the server).
func (h *kbHandle) docID(path string) string {
	up := filepath.Join(h.store.Dir(), uploadsDir) + string(filepath.Separator)
	if rest, ok := strings.CutPrefix(path, up); ok && !strings.ContainsRune(rest, filepath.Separator) {
		return strings.TrimSuffix(rest, filepath.Ext(rest))
	}
	sum := sha256.Sum256([]byte(path))
	return "f" + hex.EncodeToString(sum[:8])
}

func (h *kbHandle) docs() []docInfo {
	var out []docInfo
	for _, p := range h.store.Paths() {
		rec, ok := h.store.Doc(p)
		if !ok {
			continue
		}
		d := docInfo{ID: h.docID(p), Name: filepath.Base(p), Title: rec.Title, Chunks: rec.NumChunks(), Bytes: rec.Size, path: p}
		if meta, err := h.readMeta(d.ID); err == nil {
			d.Name, d.Uploaded = meta.Name, meta.Uploaded
			if d.Title == d.ID { // extraction fell back to the stored file name
				d.Title = strings.TrimSuffix(meta.Name, filepath.Ext(meta.Name))
			}
		}
		out = append(out, d)
	}
	return out
}

func (h *kbHandle) doc(id string) (docInfo, bool) {
	for _, d := range h.docs() {
		if d.ID == id {
			return d, true
		}
	}
	return docInfo{}, false
}

// displayName is what citations show for a chunk's source file.
func (h *kbHandle) displayName(path string) (id, name string) {
	id = h.docID(path)
	if meta, err := h.readMeta(id); err == nil {
		return id, meta.Name
	}
	return id, filepath.Base(path)
}

var idRe = regexp.MustCompile(`^[a-z0-9]{1,40}$`)

func (h *kbHandle) readMeta(id string) (uploadMeta, error) {
	var m uploadMeta
	if !idRe.MatchString(id) {
		return m, errors.New("bad id")
	}
	b, err := os.ReadFile(filepath.Join(h.store.Dir(), uploadsDir, id+".json"))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// sanitizeName makes a client's file name fit for display: the last path
// element of either slash style, control and format characters removed,
// at most 200 bytes. It is never used to build a path.
func sanitizeName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, name)
	// Leading and trailing dots and spaces: hidden files, "..", and
	// names Windows would silently change.
	name = strings.TrimFunc(name, func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
	ext := filepath.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	for len(stem)+len(ext) > 200 {
		_, size := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-size]
	}
	name = strings.TrimFunc(stem+ext, func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
	if name == "" {
		name = "document"
	}
	return name
}

// kbFor opens the knowledge base the path names for a caller that needs
// the given access (ScopeRead to list, read and query it; ScopeWrite to
// change it), answering 404, 403, 409 or 503 itself when it cannot.
func (s *Server) kbFor(w http.ResponseWriter, r *http.Request, need Scope) (*kbHandle, bool) {
	h, he := s.openKB(r.Context(), r.PathValue("kb"), need)
	if he != nil {
		he.write(w)
		return nil, false
	}
	return h, true
}

// openKB is kbFor for callers that are not handlers of a {kb} route (a
// knowledge-base chat).
func (s *Server) openKB(ctx context.Context, name string, need Scope) (*kbHandle, *httpError) {
	if s.kbs == nil {
		return nil, &httpError{http.StatusNotFound, openai.TypeNotFound, "knowledge bases are not enabled on this server (start it with --kb-dir)", "kb_disabled"}
	}
	dir, err := s.kbs.dir(name)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, openai.TypeInvalidRequest, err.Error(), ""}
	}
	notFound := &httpError{http.StatusNotFound, openai.TypeNotFound, fmt.Sprintf("knowledge base %q does not exist (create it with POST /v1/kb)", name), "kb_not_found"}
	if _, err := rag.ReadStoreConfig(dir); err != nil {
		if errors.Is(err, rag.ErrNotFound) {
			return nil, notFound
		}
		return nil, s.kbError("open knowledge base", err)
	}
	c := callerFrom(ctx)
	if he := c.checkKB(name, s.kbs.accessOf(name), need); he != nil {
		return nil, he
	}
	h, err := s.kbs.open(name, false)
	if err != nil {
		if errors.Is(err, rag.ErrNotFound) {
			return nil, notFound // deleted meanwhile
		}
		return nil, s.kbError("open knowledge base", err)
	}
	return h, nil
}

// kbError maps a knowledge-base failure to a status and a message that
// never carries a server path: rag's public message, redacted.
func (s *Server) kbError(what string, err error) *httpError {
	msg := s.redact(rag.PublicMessage(err))
	switch {
	case errors.Is(err, context.Canceled):
		return &httpError{status: 499, msg: "client went away"}
	case errors.Is(err, rag.ErrNotFound):
		return &httpError{http.StatusNotFound, openai.TypeNotFound, msg, "not_found"}
	case errors.Is(err, rag.ErrLocked):
		return &httpError{http.StatusServiceUnavailable, openai.TypeServer, msg, "kb_locked"}
	case errors.Is(err, rag.ErrClosed):
		return &httpError{http.StatusConflict, openai.TypeInvalidRequest, "the knowledge base was deleted while the request ran", "kb_deleted"}
	case errors.Is(err, rag.ErrReadOnly), errors.Is(err, rag.ErrExists):
		return &httpError{http.StatusConflict, openai.TypeInvalidRequest, msg, "conflict"}
	case errors.Is(err, rag.ErrTooLarge):
		return &httpError{http.StatusRequestEntityTooLarge, openai.TypeInvalidRequest,
			msg + "; the server's limit is --max-extract", "extraction_too_large"}
	case errors.Is(err, rag.ErrUnsupported), errors.Is(err, rag.ErrBadFile):
		return &httpError{http.StatusUnprocessableEntity, openai.TypeInvalidRequest, msg, "unprocessable_document"}
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{http.StatusGatewayTimeout, openai.TypeServer, msg, "timeout"}
	}
	s.log.Error(what, "err", s.redact(err.Error()))
	return &httpError{http.StatusInternalServerError, openai.TypeServer, msg, ""}
}

type kbInfo struct {
	Name       string `json:"name"`
	Owner      string `json:"owner,omitempty"`
	Shared     bool   `json:"shared"`
	Documents  int    `json:"documents"`
	Chunks     int    `json:"chunks"`
	Chars      int64  `json:"chars"`
	Embeddings bool   `json:"embeddings"`
	ChunkSize  int    `json:"chunk_size"`
	Created    string `json:"created"`
}

// describe fills in ownership: the owner's key name only for admins and
// the owner itself (other keys learn that it is shared, not whose it is).
func (i *kbInfo) describe(a kbAccess, c caller) {
	i.Shared = a.Shared || a.Owner == ""
	if !c.keyed || c.scope >= ScopeAdmin || a.Owner == c.name {
		i.Owner = a.Owner
	}
}

func infoOf(h *kbHandle) kbInfo {
	st, cfg := h.store.Stats(), h.store.Config()
	return kbInfo{Name: h.name, Documents: st.Docs, Chunks: st.Chunks, Chars: st.Chars,
		Embeddings: cfg.Embedding != nil, ChunkSize: cfg.ChunkSize, Created: cfg.Created.Format(time.RFC3339)}
}

func (s *Server) handleKBList(w http.ResponseWriter, r *http.Request) {
	if s.kbs == nil {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []kbInfo{}})
		return
	}
	c := callerFrom(r.Context())
	out := []kbInfo{}
	for _, name := range s.kbs.list() {
		a := s.kbs.accessOf(name)
		if c.checkKB(name, a, ScopeRead) != nil {
			continue
		}
		if info, ok := s.kbs.peek(name); ok {
			info.describe(a, c)
			out = append(out, info)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": out})
}

func (s *Server) handleKBCreate(w http.ResponseWriter, r *http.Request) {
	if s.kbs == nil {
		writeError(w, http.StatusNotFound, openai.TypeNotFound, "knowledge bases are not enabled on this server (start it with --kb-dir)", "", "kb_disabled")
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Name   string `json:"name"`
		Shared bool   `json:"shared"`
	}
	if err := openai.Decode(body, &req); err != nil {
		writeRequestError(w, err)
		return
	}
	if _, err := s.kbs.dir(req.Name); err != nil {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, err.Error(), "name", "")
		return
	}
	// A name is a path element and shows in every listing: it cannot be
	// masked later, so personal data or refused terms are refused here.
	if s.policy != nil {
		if fs := s.policy.Scan(req.Name); len(fs) > 0 {
			writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest,
				"the knowledge base name holds personal data or a refused term ("+findingSummary(allFindings(fs))+"); choose another", "name", "content_policy_violation")
			return
		}
	}
	c := callerFrom(r.Context())
	h, err := s.kbs.open(req.Name, true, kbAccess{Owner: c.name, Shared: req.Shared})
	if err != nil {
		if errors.Is(err, errKBExists) || errors.Is(err, rag.ErrExists) {
			writeError(w, http.StatusConflict, openai.TypeInvalidRequest, fmt.Sprintf("knowledge base %q already exists", req.Name), "name", "kb_exists")
			return
		}
		s.kbError("create knowledge base", err).write(w)
		return
	}
	info := infoOf(h)
	info.describe(h.access, c)
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) handleKBGet(w http.ResponseWriter, r *http.Request) {
	if h, ok := s.kbFor(w, r, ScopeRead); ok {
		info := infoOf(h)
		info.describe(s.kbs.accessOf(h.name), callerFrom(r.Context()))
		writeJSON(w, http.StatusOK, info)
	}
}

// handleKBShare sets whether keys other than the owner may read a
// knowledge base: PATCH /v1/kb/{kb} {"shared": true}.
func (s *Server) handleKBShare(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r, ScopeWrite)
	if !ok {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Shared *bool `json:"shared"`
	}
	if err := openai.Decode(body, &req); err != nil {
		writeRequestError(w, err)
		return
	}
	if req.Shared == nil {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, `send {"shared": true} or {"shared": false}`, "shared", "")
		return
	}
	if err := s.kbs.setShared(h, *req.Shared); err != nil {
		s.kbError("share knowledge base", err).write(w)
		return
	}
	info := infoOf(h)
	info.describe(s.kbs.accessOf(h.name), callerFrom(r.Context()))
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleKBDelete(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r, ScopeWrite)
	if !ok {
		return
	}
	if h.store.ReadOnly() {
		// Another process is writing it (a 'ragtune ingest', a second
		// server): removing the directory under it would lose its work.
		writeError(w, http.StatusServiceUnavailable, openai.TypeServer,
			"the knowledge base is being written by another process; delete it when that is done", "", "kb_locked")
		return
	}
	if err := s.kbs.remove(h.name); err != nil {
		s.kbError("delete knowledge base", err).write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": h.name, "deleted": true})
}

func (s *Server) handleDocList(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r, ScopeRead)
	if !ok {
		return
	}
	docs := h.docs()
	for i := range docs {
		docs[i].Name, docs[i].Title = s.screenMeta(docs[i].Name), s.screenMeta(docs[i].Title)
	}
	if docs == nil {
		docs = []docInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": docs})
}

func (s *Server) handleDocDelete(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r, ScopeWrite)
	if !ok {
		return
	}
	d, ok := h.doc(r.PathValue("doc"))
	if !ok {
		writeError(w, http.StatusNotFound, openai.TypeNotFound, "no such document", "doc", "document_not_found")
		return
	}
	h.writeMu.Lock()
	err := h.store.Delete(d.path)
	if err == nil && idRe.MatchString(d.ID) {
		up := filepath.Join(h.store.Dir(), uploadsDir)
		if filepath.Dir(d.path) == up {
			os.Remove(d.path)
			os.Remove(filepath.Join(up, d.ID+".json"))
		}
	}
	h.writeMu.Unlock()
	if err != nil {
		s.kbError("delete document", err).write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "deleted": true})
}

// uploadResult is one file of an upload.
type uploadResult struct {
	docInfo
	Status string `json:"status"` // added, duplicate
	// DuplicateOf is, for a duplicate, the id of the document that
	// already holds the same content (nothing new was stored).
	DuplicateOf string `json:"duplicate_of,omitempty"`
	SHA256      string `json:"sha256"`
}

// pendingUpload is a file read from the request, not yet stored.
type pendingUpload struct {
	name, ext, id string
	data          []byte
}

// handleDocUpload takes multipart/form-data with one or more file parts,
// all or nothing: every part is read and checked (type, size) before any
// is stored; the files are then written, and rag.Store.AddDocuments
// extracts, chunks and embeds them outside any lock, within the
// extraction budget (--max-extract) and the request's context (a client
// that goes away cancels the work), and commits them together. Content
// the knowledge base already holds (by SHA-256) is reported as a
// duplicate of the stored document and not stored twice.
func (s *Server) handleDocUpload(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r, ScopeWrite)
	if !ok {
		return
	}
	limit := s.cfg.MaxUploadBytes
	r.Body = http.MaxBytesReader(w, r.Body, limit+64<<10) // room for multipart headers
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "expected multipart/form-data with a 'file' part", "file", "")
		return
	}
	var files []pendingUpload
	var total int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, openai.TypeInvalidRequest, fmt.Sprintf("upload exceeds %d bytes (server --max-upload)", limit), "file", "upload_too_large")
				return
			}
			writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "malformed multipart body", "file", "")
			return
		}
		if part.FileName() == "" {
			part.Close()
			continue
		}
		f, status, err := readUpload(part, limit-total, limit)
		part.Close()
		if err != nil {
			writeError(w, status, openai.TypeInvalidRequest, s.screenMeta(err.Error())+"; nothing was stored", "file", "")
			return
		}
		total += int64(len(f.data))
		files = append(files, f)
	}
	if len(files) == 0 {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "no file in the upload: send a multipart 'file' part with a filename", "file", "")
		return
	}
	results, he := s.storeUploads(r.Context(), h, files)
	if he != nil {
		he.write(w)
		return
	}
	status := http.StatusOK // every file was already there
	for _, res := range results {
		if res.Status == "added" {
			status = http.StatusCreated
		}
	}
	writeJSON(w, status, map[string]any{"object": "list", "data": results})
}

// readUpload reads one file part: its extension must be one rag
// extracts, its size within what is left of the request's limit.
func readUpload(part *multipart.Part, left, limit int64) (pendingUpload, int, error) {
	name := sanitizeName(part.FileName())
	ext := strings.ToLower(filepath.Ext(name))
	if !slices.Contains(rag.Extensions, ext) {
		return pendingUpload{}, http.StatusUnsupportedMediaType,
			fmt.Errorf("%q: unsupported file type %q (accepted: %s)", name, ext, strings.Join(rag.Extensions, " "))
	}
	data, err := io.ReadAll(io.LimitReader(part, left+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return pendingUpload{}, http.StatusRequestEntityTooLarge, fmt.Errorf("upload exceeds %d bytes (server --max-upload)", limit)
		}
		return pendingUpload{}, http.StatusBadRequest, errors.New("could not read the upload")
	}
	if int64(len(data)) > left {
		return pendingUpload{}, http.StatusRequestEntityTooLarge, fmt.Errorf("upload exceeds %d bytes (server --max-upload)", limit)
	}
	if len(data) == 0 {
		return pendingUpload{}, http.StatusBadRequest, fmt.Errorf("%q is empty", name)
	}
	var idb [10]byte
	rand.Read(idb[:])
	return pendingUpload{name: name, ext: ext, id: hex.EncodeToString(idb[:]), data: data}, 0, nil
}

// storeUploads writes the files and their sidecars (durably, so nothing
// acknowledged is lost) and adds them to the knowledge base in one
// commit. Whatever fails, or turns out to duplicate stored content, is
// removed again.
func (s *Server) storeUploads(ctx context.Context, h *kbHandle, files []pendingUpload) ([]uploadResult, *httpError) {
	h.life.RLock()
	defer h.life.RUnlock()
	if h.removed {
		return nil, &httpError{http.StatusNotFound, openai.TypeNotFound, fmt.Sprintf("knowledge base %q was deleted", h.name), "kb_not_found"}
	}
	up := filepath.Join(h.store.Dir(), uploadsDir)
	if err := os.MkdirAll(up, 0o755); err != nil {
		return nil, s.kbError("store upload", err)
	}
	now := time.Now().UTC()
	docs := make([]rag.NewDocument, len(files))
	var written []string
	cleanup := func(paths []string) {
		for _, p := range paths {
			os.Remove(p)
		}
	}
	for i, f := range files {
		path := filepath.Join(up, f.id+f.ext)
		sum := sha256.Sum256(f.data)
		meta := uploadMeta{ID: f.id, Name: f.name, Bytes: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:]), Uploaded: now}
		mj, _ := json.Marshal(meta)
		side := filepath.Join(up, f.id+".json")
		if err := atomicfile.WriteFile(side, mj); err != nil {
			cleanup(written)
			return nil, s.kbError("store upload", err)
		}
		written = append(written, side)
		if err := atomicfile.WriteFile(path, f.data); err != nil {
			cleanup(written)
			return nil, s.kbError("store upload", err)
		}
		written = append(written, path)
		docs[i] = rag.NewDocument{Path: path, Name: f.name, Data: f.data, ModTime: now}
	}
	added, err := h.store.AddDocuments(ctx, docs, rag.IngestOptions{Extract: rag.ExtractOptions{MaxExtractBytes: s.cfg.MaxExtractBytes}})
	if err != nil {
		cleanup(written)
		return nil, s.kbError("add documents", err)
	}
	out := make([]uploadResult, len(files))
	for i, a := range added {
		f := files[i]
		res := uploadResult{docInfo: docInfo{ID: f.id, Name: s.screenMeta(f.name), Bytes: int64(len(f.data)), Uploaded: now,
			Chunks: a.Chunks, Title: a.Title}, SHA256: a.Hash}
		if res.Title == f.id {
			res.Title = strings.TrimSuffix(f.name, f.ext)
		}
		res.Title = s.screenMeta(res.Title)
		if a.Status == rag.AddedDuplicate {
			res.Status = "duplicate"
			dup := h.docID(a.DuplicateOf)
			res.ID, res.DuplicateOf = dup, dup
			if meta, err := h.readMeta(dup); err == nil {
				res.Name, res.Uploaded = s.screenMeta(meta.Name), meta.Uploaded
			}
			os.Remove(docs[i].Path)
			os.Remove(filepath.Join(up, f.id+".json"))
		} else {
			res.Status = "added"
			s.metrics.uploads.Add(1)
		}
		out[i] = res
	}
	return out, nil
}

func (s *Server) handleChunk(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r, ScopeRead)
	if !ok {
		return
	}
	cid := r.PathValue("chunk")
	docID, idx, found := strings.Cut(cid, "-")
	i, err := strconv.Atoi(idx)
	if !found || err != nil || i < 0 {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "chunk id is <document id>-<chunk index>", "chunk", "")
		return
	}
	d, ok := h.doc(docID)
	if !ok {
		writeError(w, http.StatusNotFound, openai.TypeNotFound, "no such document", "chunk", "document_not_found")
		return
	}
	c, n, ok, err := h.store.Chunk(r.Context(), d.path, i)
	if err != nil {
		s.kbError("read chunk", err).write(w)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, openai.TypeNotFound, "no such chunk", "chunk", "chunk_not_found")
		return
	}
	title := c.Title
	if title == d.ID {
		title = strings.TrimSuffix(d.Name, filepath.Ext(d.Name))
	}
	writeJSON(w, http.StatusOK, map[string]any{"chunk_id": cid, "document_id": d.ID, "source": s.screenMeta(d.Name),
		"title": s.screenMeta(title), "headings": s.screenMetaList(c.Headings), "index": c.Index, "char_start": c.CharStart, "char_end": c.CharEnd,
		"text": s.screenMeta(s.screenRetrieved(c.Text)), "chunks_in_document": n})
}

func (s *Server) handleKBQuery(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r, ScopeRead)
	if !ok {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Query string `json:"query"`
		TopK  int    `json:"top_k"`
		Mode  string `json:"mode"`
		// Rerank false skips the reranker the knowledge base records.
		Rerank *bool `json:"rerank"`
	}
	if err := openai.Decode(body, &req); err != nil {
		writeRequestError(w, err)
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "query is required", "query", "")
		return
	}
	q, he := s.screenQuery(req.Query)
	if he != nil {
		he.write(w)
		return
	}
	cites, he := s.retrieve(r.Context(), h, q, req.TopK, req.Mode, req.Rerank != nil && !*req.Rerank)
	if he != nil {
		he.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": cites})
}
