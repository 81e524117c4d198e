package server

import (
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
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"ragtune/rag"
	"ragtune/server/openai"
)

// kbNameRe is the knowledge-base name rule of the CLI (cmd/ragtune/kb.go):
// letters, digits, '.', '_' and '-', never a path.
var kbNameRe = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}._-]{0,63}$`)

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
	name    string
	store   *rag.Store
	writeMu sync.Mutex // the store takes one writer at a time
}

func newKBManager(root string, embed rag.Embedder, url, model, path string) *kbManager {
	return &kbManager{root: root, embed: embed, embedURL: url, embedModel: model, embedPath: path, handles: map[string]*kbHandle{}}
}

var errBadKBName = errors.New("invalid knowledge base name")

func (m *kbManager) dir(name string) (string, error) {
	if !kbNameRe.MatchString(name) || strings.Contains(name, "..") {
		return "", fmt.Errorf("%w %q: use letters, digits, '.', '_' and '-' (at most 64)", errBadKBName, name)
	}
	return filepath.Join(m.root, name), nil
}

// open returns the open knowledge base, opening it (or creating it when
// create is set) on first use. It stays open for writing until closeAll.
func (m *kbManager) open(name string, create bool) (*kbHandle, error) {
	dir, err := m.dir(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.handles[name]; h != nil {
		if create {
			return nil, fmt.Errorf("knowledge base %q already exists", name)
		}
		return h, nil
	}
	var st *rag.Store
	if create {
		if _, err := rag.ReadStoreConfig(dir); err == nil {
			return nil, fmt.Errorf("knowledge base %q already exists", name)
		}
		cfg := rag.StoreConfig{Name: name, ChunkSize: 512, Overlap: 64}
		switch {
		case m.embed != nil && m.embedURL != "":
			cfg.Embedding = &rag.EmbeddingConfig{URL: m.embedURL, Model: m.embedModel}
		case m.embed != nil && m.embedPath != "":
			cfg.Embedding = &rag.EmbeddingConfig{Path: m.embedPath}
		}
		if err := os.MkdirAll(m.root, 0o755); err != nil {
			return nil, fmt.Errorf("create knowledge base: %w", err)
		}
		st, err = rag.CreateStore(dir, cfg)
	} else {
		var embed rag.Embedder
		if cfg, cerr := rag.ReadStoreConfig(dir); cerr == nil && cfg.Embedding != nil &&
			cfg.Embedding.URL == m.embedURL && cfg.Embedding.Path == m.embedPath {
			embed = m.embed
		}
		st, err = rag.OpenStore(dir, embed, false)
	}
	if err != nil {
		return nil, err
	}
	h := &kbHandle{name: name, store: st}
	m.handles[name] = h
	return h, nil
}

func (m *kbManager) list() []string {
	entries, _ := os.ReadDir(m.root)
	var out []string
	for _, e := range entries {
		if !e.IsDir() || !kbNameRe.MatchString(e.Name()) {
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

func (m *kbManager) remove(name string) error {
	dir, err := m.dir(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.handles[name]; h != nil {
		h.writeMu.Lock()
		defer h.writeMu.Unlock()
		h.store.Close()
		delete(m.handles, name)
	}
	if _, err := rag.ReadStoreConfig(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
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
		d := docInfo{ID: h.docID(p), Name: filepath.Base(p), Title: rec.Title, Chunks: len(rec.Chunks), Bytes: rec.Size, path: p}
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

func (s *Server) kbFor(w http.ResponseWriter, r *http.Request) (*kbHandle, bool) {
	if s.kbs == nil {
		writeError(w, http.StatusNotFound, openai.TypeNotFound, "knowledge bases are not enabled on this server (start it with --kb-dir)", "", "kb_disabled")
		return nil, false
	}
	name := r.PathValue("kb")
	dir, err := s.kbs.dir(name)
	if err != nil {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, err.Error(), "kb", "")
		return nil, false
	}
	if _, err := rag.ReadStoreConfig(dir); err != nil {
		writeError(w, http.StatusNotFound, openai.TypeNotFound, fmt.Sprintf("knowledge base %q does not exist (create it with POST /v1/kb)", name), "kb", "kb_not_found")
		return nil, false
	}
	h, err := s.kbs.open(name, false)
	if err != nil {
		s.log.Error("open knowledge base", "kb", name, "err", err)
		writeError(w, http.StatusInternalServerError, openai.TypeServer, "could not open knowledge base "+name+": "+err.Error(), "", "")
		return nil, false
	}
	return h, true
}

type kbInfo struct {
	Name       string `json:"name"`
	Documents  int    `json:"documents"`
	Chunks     int    `json:"chunks"`
	Chars      int64  `json:"chars"`
	Embeddings bool   `json:"embeddings"`
	ChunkSize  int    `json:"chunk_size"`
	Created    string `json:"created"`
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
	out := []kbInfo{}
	for _, name := range s.kbs.list() {
		if info, ok := s.kbs.peek(name); ok {
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
		Name string `json:"name"`
	}
	if err := openai.Decode(body, &req); err != nil {
		writeRequestError(w, err)
		return
	}
	if _, err := s.kbs.dir(req.Name); err != nil {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, err.Error(), "name", "")
		return
	}
	h, err := s.kbs.open(req.Name, true)
	if err != nil {
		status := http.StatusInternalServerError
		if strings.Contains(err.Error(), "already exists") {
			status = http.StatusConflict
		}
		writeError(w, status, openai.TypeInvalidRequest, err.Error(), "name", "")
		return
	}
	writeJSON(w, http.StatusCreated, infoOf(h))
}

func (s *Server) handleKBGet(w http.ResponseWriter, r *http.Request) {
	if h, ok := s.kbFor(w, r); ok {
		writeJSON(w, http.StatusOK, infoOf(h))
	}
}

func (s *Server) handleKBDelete(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r)
	if !ok {
		return
	}
	if err := s.kbs.remove(h.name); err != nil {
		writeError(w, http.StatusInternalServerError, openai.TypeServer, "delete knowledge base: "+err.Error(), "", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": h.name, "deleted": true})
}

func (s *Server) handleDocList(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r)
	if !ok {
		return
	}
	docs := h.docs()
	if docs == nil {
		docs = []docInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": docs})
}

func (s *Server) handleDocDelete(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r)
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
		writeError(w, http.StatusInternalServerError, openai.TypeServer, "delete document: "+err.Error(), "", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "deleted": true})
}

// uploadResult is one file of an upload.
type uploadResult struct {
	docInfo
	Status string `json:"status"` // added, unchanged, rejected
	Error  string `json:"error,omitempty"`
}

// handleDocUpload takes multipart/form-data with one or more file parts.
// Each file is stored under a fresh id with an extension from
// rag.Extensions, made durable, then ingested; a file that cannot be
// extracted is removed again and reported.
func (s *Server) handleDocUpload(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r)
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
	var results []uploadResult
	var total int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, openai.TypeInvalidRequest, fmt.Sprintf("upload exceeds %d bytes", limit), "file", "upload_too_large")
				return
			}
			writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "malformed multipart body: "+err.Error(), "file", "")
			return
		}
		if part.FileName() == "" {
			part.Close()
			continue
		}
		res, status, err := s.storeUpload(r, h, part, limit-total)
		part.Close()
		if err != nil {
			writeError(w, status, openai.TypeInvalidRequest, err.Error(), "file", "")
			return
		}
		total += res.Bytes
		results = append(results, res)
	}
	if len(results) == 0 {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "no file in the upload: send a multipart 'file' part with a filename", "file", "")
		return
	}
	status := http.StatusCreated
	for _, r := range results {
		if r.Status == "rejected" {
			status = http.StatusUnprocessableEntity
		}
	}
	writeJSON(w, status, map[string]any{"object": "list", "data": results})
}

func (s *Server) storeUpload(r *http.Request, h *kbHandle, part *multipart.Part, limit int64) (uploadResult, int, error) {
	name := sanitizeName(part.FileName())
	ext := strings.ToLower(filepath.Ext(name))
	if !slices.Contains(rag.Extensions, ext) {
		return uploadResult{}, http.StatusUnsupportedMediaType,
			fmt.Errorf("%q: unsupported file type %q (accepted: %s)", name, ext, strings.Join(rag.Extensions, " "))
	}
	data, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return uploadResult{}, http.StatusRequestEntityTooLarge, fmt.Errorf("upload exceeds %d bytes", s.cfg.MaxUploadBytes)
		}
		return uploadResult{}, http.StatusBadRequest, fmt.Errorf("read upload: %w", err)
	}
	if int64(len(data)) > limit {
		return uploadResult{}, http.StatusRequestEntityTooLarge, fmt.Errorf("upload exceeds %d bytes", s.cfg.MaxUploadBytes)
	}
	if len(data) == 0 {
		return uploadResult{}, http.StatusBadRequest, fmt.Errorf("%q is empty", name)
	}
	var idb [10]byte
	rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	sum := sha256.Sum256(data)
	meta := uploadMeta{ID: id, Name: name, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Uploaded: time.Now().UTC()}
	res := uploadResult{docInfo: docInfo{ID: id, Name: name, Bytes: meta.Bytes, Uploaded: meta.Uploaded}}

	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	up := filepath.Join(h.store.Dir(), uploadsDir)
	if err := os.MkdirAll(up, 0o755); err != nil {
		return res, http.StatusInternalServerError, fmt.Errorf("store upload: %w", err)
	}
	path := filepath.Join(up, id+ext)
	mj, _ := json.Marshal(meta)
	if err := writeFileSync(filepath.Join(up, id+".json"), mj); err != nil {
		return res, http.StatusInternalServerError, fmt.Errorf("store upload: %w", err)
	}
	if err := writeFileSync(path, data); err != nil {
		os.Remove(filepath.Join(up, id+".json"))
		return res, http.StatusInternalServerError, fmt.Errorf("store upload: %w", err)
	}
	rep, err := h.store.Ingest(r.Context(), []string{path}, rag.IngestOptions{})
	if err != nil || rep.Added+rep.Updated == 0 {
		os.Remove(path)
		os.Remove(filepath.Join(up, id+".json"))
		msg := "no text could be extracted"
		if err != nil {
			msg = err.Error()
		} else if len(rep.Problems) > 0 && rep.Problems[0].Err != nil {
			msg = rep.Problems[0].Err.Error()
		}
		msg = strings.ReplaceAll(msg, path, name) // the server's path is not the client's business
		res.Status, res.Error = "rejected", msg
		return res, 0, nil
	}
	s.metrics.uploads.Add(1)
	if rec, ok := h.store.Doc(path); ok {
		res.Chunks, res.Title = len(rec.Chunks), rec.Title
		if res.Title == id {
			res.Title = strings.TrimSuffix(name, ext)
		}
	}
	res.Status = "added"
	return res, 0, nil
}

// writeFileSync writes a file through a temporary name, fsynced, so a
// crash leaves either the whole file or none.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func (s *Server) handleChunk(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r)
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
	rec, ok := h.store.Doc(d.path)
	if !ok || i >= len(rec.Chunks) {
		writeError(w, http.StatusNotFound, openai.TypeNotFound, "no such chunk", "chunk", "chunk_not_found")
		return
	}
	c := rec.Chunks[i]
	writeJSON(w, http.StatusOK, map[string]any{"chunk_id": cid, "document_id": d.ID, "source": d.Name,
		"title": c.Title, "headings": c.Headings, "index": c.Index, "char_start": c.CharStart, "char_end": c.CharEnd,
		"text": s.screenRetrieved(c.Text), "chunks_in_document": len(rec.Chunks)})
}

func (s *Server) handleKBQuery(w http.ResponseWriter, r *http.Request) {
	h, ok := s.kbFor(w, r)
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
	}
	if err := openai.Decode(body, &req); err != nil {
		writeRequestError(w, err)
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "query is required", "query", "")
		return
	}
	cites, he := s.retrieve(r.Context(), h, req.Query, req.TopK, req.Mode)
	if he != nil {
		he.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": cites})
}
