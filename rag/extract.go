package rag

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"
)

// ErrUnsupported marks a file that is valid but whose content we cannot
// extract (an unknown extension, a scanned or font-encoded PDF); ingest
// reports it as skipped rather than failed.
var ErrUnsupported = errors.New("unsupported content")

// ErrTooLarge marks a file whose extraction would exceed the limits of
// ExtractOptions (MaxExtractBytes, MaxStreams): a decompression bomb, or
// a genuine file too big for the configured limit. Errors matching it are
// *TooLargeError values; a server answers 413.
var ErrTooLarge = errors.New("content too large")

// DefaultMaxExtractBytes is the extraction budget when ExtractOptions
// leaves MaxExtractBytes at 0: eight times the server's default upload
// limit (16 MiB), so any honest upload fits and a bomb is stopped long
// before it can exhaust memory.
const DefaultMaxExtractBytes = 128 << 20

// DefaultMaxStreams is the limit on zip entries and PDF streams when
// ExtractOptions leaves MaxStreams at 0.
const DefaultMaxStreams = 10000

// DefaultMaxInflateRatio is the limit on extracted bytes per byte of the
// file when ExtractOptions leaves MaxInflateRatio at 0. Honest documents
// inflate a few times to a few dozen times (XML and content streams);
// bombs hundreds to thousands of times.
const DefaultMaxInflateRatio = 100

// inflateRatioFloor is what any file may extract to whatever its ratio,
// so small honest files never meet the ratio limit.
const inflateRatioFloor = 16 << 20

// TooLargeError reports which limit a file exceeded. Its message names the
// file by its base name only (never a server directory), the limit and
// how to raise it.
type TooLargeError struct {
	Name  string // base name of the file
	What  string // "bytes of extracted content", "zip entries", "PDF streams"
	Limit int64
	Field string // the ExtractOptions field that sets the limit
	Ratio int    // for MaxInflateRatio: the ratio that set Limit
	Hint  string // how a user raises it (ExtractOptions.LimitHint)
}

func (e *TooLargeError) Error() string {
	limit := fmt.Sprint(e.Limit)
	if e.Field != "MaxStreams" && e.Limit >= 1<<20 {
		limit = fmt.Sprintf("%.0f MiB (%d)", float64(e.Limit)/(1<<20), e.Limit)
	}
	msg := fmt.Sprintf("%s: over the limit of %s %s", e.Name, limit, e.What)
	if e.Field == "MaxInflateRatio" {
		msg += fmt.Sprintf(", %d times the file's size", e.Ratio)
	}
	hint := e.Hint
	if hint == "" {
		hint = "raise ExtractOptions." + e.Field
	}
	return msg + "; a decompression bomb, or a genuine file that needs a higher limit (" + hint + ")"
}

// Is makes errors.Is(err, ErrTooLarge) match.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Document is the text extracted from one file.
type Document struct {
	Title    string
	Text     string
	Markdown bool // chunk with heading tracking
}

// ExtractOptions tune extraction.
type ExtractOptions struct {
	// JSONFields names the string fields of JSON/JSONL records to index,
	// in order; empty means every string field.
	JSONFields []string

	// MaxExtractBytes bounds what extracting one file may produce: the
	// bytes inflated from all its zip entries and PDF streams together,
	// and its decoded text. A file needing more fails with a
	// *TooLargeError (errors.Is ErrTooLarge) before memory grows past
	// about this much. 0 means DefaultMaxExtractBytes; a server sets a
	// small multiple of its upload limit. Negative means no limit.
	MaxExtractBytes int64

	// MaxStreams bounds the zip entries of a .docx and the streams of a
	// PDF; 0 means DefaultMaxStreams, negative no limit.
	MaxStreams int

	// MaxInflateRatio bounds the same bytes relative to the file: at most
	// this many times its size, though always at least 16 MiB (or
	// MaxExtractBytes when that is smaller). It refuses a small file that
	// inflates a thousandfold (a 130 KB PDF holding a 64 MiB stream) even
	// when the result would fit MaxExtractBytes, since the text it yields
	// costs as much to chunk and index as a large upload's. 0 means
	// DefaultMaxInflateRatio; negative means no such limit.
	MaxInflateRatio int

	// LimitHint tells a user how to raise the limits, for the message of
	// a *TooLargeError (the server: "start ragtune serve with a larger
	// --max-upload"); empty names the ExtractOptions field.
	LimitHint string
}

// extractBudget charges everything one extraction inflates or decodes
// against ExtractOptions.MaxExtractBytes and watches for cancellation.
type extractBudget struct {
	ctx        context.Context
	name       string
	limit      int64  // < 0: none
	field      string // the option that set limit
	ratio      int
	used       int64
	maxStreams int // < 0: none
	streams    int
	hint       string
}

// newExtractBudget sets the byte limit for a file of size bytes: the
// smaller of MaxExtractBytes and the ratio limit.
func newExtractBudget(ctx context.Context, name string, size int, o ExtractOptions) *extractBudget {
	b := &extractBudget{ctx: ctx, name: filepath.Base(name), limit: o.MaxExtractBytes, field: "MaxExtractBytes",
		ratio: o.MaxInflateRatio, maxStreams: o.MaxStreams, hint: o.LimitHint}
	if b.limit == 0 {
		b.limit = DefaultMaxExtractBytes
	}
	if b.ratio == 0 {
		b.ratio = DefaultMaxInflateRatio
	}
	if b.ratio > 0 {
		floor := int64(inflateRatioFloor)
		if b.limit >= 0 {
			floor = min(floor, b.limit)
		}
		if byRatio := max(floor, int64(b.ratio)*int64(size)); b.limit < 0 || byRatio < b.limit {
			b.limit, b.field = byRatio, "MaxInflateRatio"
		}
	}
	if b.maxStreams == 0 {
		b.maxStreams = DefaultMaxStreams
	}
	return b
}

func (b *extractBudget) tooLarge() error {
	return &TooLargeError{Name: b.name, What: "bytes of extracted content", Limit: b.limit, Field: b.field, Ratio: b.ratio, Hint: b.hint}
}

// remaining returns how many more bytes may be charged (math.MaxInt64
// without a limit).
func (b *extractBudget) remaining() int64 {
	if b.limit < 0 {
		return math.MaxInt64
	}
	return b.limit - b.used
}

// charge counts n more bytes.
func (b *extractBudget) charge(n int64) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	b.used += n
	if b.limit >= 0 && b.used > b.limit {
		return b.tooLarge()
	}
	return nil
}

// stream counts one more zip entry or PDF stream.
func (b *extractBudget) stream(what string) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	b.streams++
	if b.maxStreams >= 0 && b.streams > b.maxStreams {
		return &TooLargeError{Name: b.name, What: what, Limit: int64(b.maxStreams), Field: "MaxStreams", Hint: b.hint}
	}
	return nil
}

// reader wraps r so every byte read is charged and reading stops with a
// *TooLargeError one byte past the budget (or with ctx's error), whatever
// r would still produce.
func (b *extractBudget) reader(r io.Reader) io.Reader { return &budgetReader{r: r, b: b} }

type budgetReader struct {
	r io.Reader
	b *extractBudget
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if err := br.b.ctx.Err(); err != nil {
		return 0, err
	}
	if rem := br.b.remaining(); rem < int64(len(p)) {
		p = p[:max(rem, 0)+1]
	}
	n, err := br.r.Read(p)
	if cerr := br.b.charge(int64(n)); cerr != nil {
		return n, cerr
	}
	return n, err
}

// Extensions lists the file extensions Extract understands.
var Extensions = []string{".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".docx", ".pdf"}

// Extract returns the text of a file given its name (for the extension)
// and content. It stops with ctx's error when ctx is cancelled, and with
// a *TooLargeError when the file would inflate or decode past the limits
// of o (see ExtractOptions.MaxExtractBytes).
func Extract(ctx context.Context, name string, data []byte, o ExtractOptions) (Document, error) {
	b := newExtractBudget(ctx, name, len(data), o)
	if err := ctx.Err(); err != nil {
		return Document{}, err
	}
	doc, err := extract(b, name, data, o)
	if err != nil {
		return Document{}, err
	}
	if b.used == 0 {
		// A text format: nothing was inflated, but decoding can grow the
		// data (GBK to UTF-8 by half) and the text is what later stages
		// hold and copy.
		if err := b.charge(int64(len(doc.Text))); err != nil {
			return Document{}, err
		}
	}
	return doc, nil
}

func extract(b *extractBudget, name string, data []byte, o ExtractOptions) (Document, error) {
	base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	ext := strings.ToLower(filepath.Ext(name))
	if ext != ".docx" && ext != ".pdf" && b.limit >= 0 && int64(len(data)) > b.limit {
		return Document{}, b.tooLarge() // text formats: the file is its content
	}
	switch ext {
	case ".txt", ".text", "":
		text, err := DecodeText(data)
		return Document{Title: base, Text: text}, err
	case ".md", ".markdown":
		text, err := DecodeText(data)
		title := base
		for _, line := range strings.SplitN(text, "\n", 50) {
			if lvl, h := atxHeading(line); lvl == 1 {
				title = h
				break
			}
		}
		return Document{Title: title, Text: text, Markdown: true}, err
	case ".html", ".htm":
		text, err := DecodeText(data)
		if err != nil {
			return Document{}, err
		}
		title, body := htmlText(text)
		if title == "" {
			title = base
		}
		return Document{Title: title, Text: body}, nil
	case ".json":
		text, err := jsonText(data, o.JSONFields, false)
		return Document{Title: base, Text: text}, err
	case ".jsonl":
		text, err := jsonText(data, o.JSONFields, true)
		return Document{Title: base, Text: text}, err
	case ".docx":
		title, text, err := docxText(b, data)
		if title == "" {
			title = base
		}
		return Document{Title: title, Text: text}, err
	case ".pdf":
		text, err := pdfText(b, data)
		return Document{Title: base, Text: text}, err
	}
	return Document{}, fmt.Errorf("%w: extension %q (supported: %s)", ErrUnsupported, filepath.Ext(name), strings.Join(Extensions, " "))
}

// DecodeText returns data as UTF-8: UTF-8 (BOM stripped) as is, UTF-16
// with a BOM converted, anything else tried as GB18030 (a superset of GBK
// and GB2312, common in Chinese corpora). Binary data is an error.
func DecodeText(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		out, err := xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM).NewDecoder().Bytes(data)
		if err != nil {
			return "", fmt.Errorf("decode UTF-16: %w", err)
		}
		return string(out), nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return "", errors.New("binary data (NUL bytes): not a text file")
	}
	if utf8.Valid(data) {
		return string(data), nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
		return "", errors.New("text is neither UTF-8 nor GB18030/GBK: convert it to UTF-8")
	}
	return string(out), nil
}

var (
	htmlDropRe  = regexp.MustCompile(`(?is)<(script|style|noscript|template)\b.*?</(script|style|noscript|template)\s*>|<!--.*?-->`)
	htmlTitleRe = regexp.MustCompile(`(?is)<title\b[^>]*>(.*?)</title\s*>`)
	htmlBlockRe = regexp.MustCompile(`(?i)</?(p|div|br|li|ul|ol|h[1-6]|tr|table|section|article|header|footer|blockquote|pre|hr|dd|dt)\b[^>]*>`)
	htmlTagRe   = regexp.MustCompile(`(?s)<[^>]*>`)
	blankRunRe  = regexp.MustCompile(`\n[ \t\r]*(\n[ \t\r]*)+`)
	spaceRunRe  = regexp.MustCompile(`[ \t\r\f\v]+`)
)

// htmlText strips markup: scripts, styles and comments are dropped, block
// elements become paragraph breaks, entities are decoded.
func htmlText(s string) (title, body string) {
	if m := htmlTitleRe.FindStringSubmatch(s); m != nil {
		title = strings.TrimSpace(html.UnescapeString(htmlTagRe.ReplaceAllString(m[1], "")))
		s = strings.Replace(s, m[0], "", 1)
	}
	s = htmlDropRe.ReplaceAllString(s, "")
	s = htmlBlockRe.ReplaceAllString(s, "\n\n")
	s = htmlTagRe.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = spaceRunRe.ReplaceAllString(s, " ")
	s = blankRunRe.ReplaceAllString(s, "\n\n")
	return title, strings.TrimSpace(s)
}

// jsonText turns records into paragraphs: one per record, holding the
// chosen string fields (all string fields, sorted by key, when none are
// chosen). A JSON file may hold one record or an array of them.
func jsonText(data []byte, fields []string, lines bool) (string, error) {
	var records []any
	if lines {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<28)
		for n := 1; sc.Scan(); n++ {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var v any
			if err := json.Unmarshal(line, &v); err != nil {
				return "", fmt.Errorf("JSONL line %d: %w", n, err)
			}
			records = append(records, v)
		}
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("read JSONL: %w", err)
		}
	} else {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return "", fmt.Errorf("parse JSON: %w", err)
		}
		if arr, ok := v.([]any); ok {
			records = arr
		} else {
			records = []any{v}
		}
	}
	var paras []string
	for _, r := range records {
		var parts []string
		switch r := r.(type) {
		case string:
			parts = append(parts, r)
		case map[string]any:
			keys := fields
			if len(keys) == 0 {
				for k := range r {
					keys = append(keys, k)
				}
				sort.Strings(keys)
			}
			for _, k := range keys {
				if s, ok := r[k].(string); ok && strings.TrimSpace(s) != "" {
					parts = append(parts, strings.TrimSpace(s))
				}
			}
		}
		if len(parts) > 0 {
			paras = append(paras, strings.Join(parts, "\n"))
		}
	}
	return strings.Join(paras, "\n\n"), nil
}

// docxText reads word/document.xml from a .docx (a zip): text runs <w:t>,
// tabs and breaks, one paragraph per <w:p>; the title comes from
// docProps/core.xml when present. The XML is parsed as it inflates, never
// held whole, and every inflated byte is charged to b.
func docxText(b *extractBudget, data []byte) (title, text string, err error) {
	// archive/zip allocates a File for every central directory entry, so
	// refuse an archive with too many before it reads them.
	if n, ok := zipEntryCount(data); ok && b.maxStreams >= 0 && n > b.maxStreams {
		return "", "", &TooLargeError{Name: b.name, What: "zip entries", Limit: int64(b.maxStreams), Field: "MaxStreams", Hint: b.hint}
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", "", fmt.Errorf("open .docx (a zip archive): %w", err)
	}
	var doc, core *zip.File
	for _, f := range zr.File {
		if err := b.stream("zip entries"); err != nil {
			return "", "", err
		}
		switch f.Name {
		case "word/document.xml":
			doc = f
		case "docProps/core.xml":
			core = f
		}
	}
	if doc == nil {
		return "", "", errors.New(".docx has no word/document.xml")
	}
	// archive/zip fails a read that goes past an entry's declared size, so
	// the declared sizes bound what inflating can produce: refuse a bomb
	// before inflating any of it.
	declared := doc.UncompressedSize64
	if core != nil {
		declared += core.UncompressedSize64
	}
	if rem := b.remaining(); declared > uint64(rem) {
		return "", "", b.tooLarge()
	}
	open := func(f *zip.File) (io.ReadCloser, io.Reader, error) {
		rc, err := f.Open()
		if err != nil {
			return nil, nil, err
		}
		return rc, b.reader(rc), nil
	}
	rc, r, err := open(doc)
	if err != nil {
		return "", "", fmt.Errorf("read word/document.xml: %w", err)
	}
	defer rc.Close()
	var sb strings.Builder
	dec := xml.NewDecoder(r)
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if stop := b.stopped(err); stop != nil {
				return "", "", stop
			}
			return "", "", fmt.Errorf("parse word/document.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				sb.WriteByte('\t')
			case "br", "cr":
				sb.WriteByte('\n')
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				sb.WriteString("\n\n")
			}
		case xml.CharData:
			if inText {
				sb.Write(t)
			}
		}
	}
	if core != nil {
		if crc, r, err := open(core); err == nil {
			var meta struct {
				Title string `xml:"title"`
			}
			if xml.NewDecoder(r).Decode(&meta) == nil {
				title = strings.TrimSpace(meta.Title)
			}
			crc.Close()
			if err := b.ctx.Err(); err != nil {
				return "", "", err
			}
			if b.remaining() < 0 {
				return "", "", b.tooLarge()
			}
		}
	}
	return title, strings.TrimSpace(blankRunRe.ReplaceAllString(sb.String(), "\n\n")), nil
}

// zipEntryCount reads the entry count of a zip's end-of-central-directory
// record (the last "PK\x05\x06" within the final 64 KiB + 22 bytes); ok is
// false when there is none or it defers to a zip64 record.
func zipEntryCount(data []byte) (n int, ok bool) {
	tail := data[max(0, len(data)-(1<<16+22)):]
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	if i < 0 || len(tail)-i < 22 {
		return 0, false
	}
	total := binary.LittleEndian.Uint16(tail[i+10:])
	if total == 0xFFFF {
		return 0, false
	}
	return int(total), true
}

// stopped returns the error that must end the extraction when a read
// failed with err: cancellation, or the budget's *TooLargeError itself
// (unwrapped from whatever the XML decoder or inflater made of it); nil
// when err is an ordinary format problem.
func (b *extractBudget) stopped(err error) error {
	if cerr := b.ctx.Err(); cerr != nil {
		return cerr
	}
	var tl *TooLargeError
	if errors.As(err, &tl) {
		return tl
	}
	return nil
}

var pdfStreamRe = regexp.MustCompile(`(?s)<<(.*?)>>\s*stream\r?\n`)

// pdfText extracts text from PDF content streams that are uncompressed or
// Flate-compressed and show text with simple (single-byte) fonts: the Tj,
// TJ, ' and " operators, with Td/TD/T*/Tm/ET starting new lines. Encrypted
// PDFs, scanned images and CID/Identity-H fonts yield ErrUnsupported.
// Streams are read one at a time, each after the previous endstream; the
// number of streams and the bytes they hold or inflate to, all together,
// are charged to b.
func pdfText(b *extractBudget, data []byte) (string, error) {
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return "", errors.New("not a PDF (no %PDF- header)")
	}
	if bytes.Contains(data, []byte("/Encrypt")) {
		return "", fmt.Errorf("%w: encrypted PDF", ErrUnsupported)
	}
	var sb strings.Builder
	var inflated bytes.Buffer
	streams := 0
	for pos := 0; pos < len(data); {
		loc := pdfStreamRe.FindSubmatchIndex(data[pos:])
		if loc == nil {
			break
		}
		dict := data[pos+loc[2] : pos+loc[3]]
		start := pos + loc[1]
		end := bytes.Index(data[start:], []byte("endstream"))
		if end < 0 {
			return "", errors.New("truncated PDF: stream without endstream")
		}
		pos = start + end + len("endstream")
		raw := bytes.TrimRight(data[start:start+end], "\r\n")
		if bytes.Contains(dict, []byte("/Subtype/Image")) || bytes.Contains(dict, []byte("/Subtype /Image")) {
			continue
		}
		flate := bytes.Contains(dict, []byte("/FlateDecode"))
		if !flate && bytes.Contains(dict, []byte("/Filter")) {
			continue // DCT, LZW, ... : images or rare encodings
		}
		if err := b.stream("PDF streams"); err != nil {
			return "", err
		}
		content := raw
		if flate {
			zr, err := zlib.NewReader(bytes.NewReader(raw))
			if err != nil {
				continue // a stream we cannot inflate (font program, broken); others may still hold text
			}
			inflated.Reset() // one buffer for every stream: garbage stays O(largest stream)
			_, err = inflated.ReadFrom(b.reader(zr))
			if stop := b.stopped(err); stop != nil {
				return "", stop
			}
			content = inflated.Bytes()
			if err != nil && len(content) == 0 {
				continue
			}
		} else if err := b.charge(int64(len(raw))); err != nil {
			return "", err
		}
		if !bytes.Contains(content, []byte("BT")) {
			continue
		}
		streams++
		pdfContentText(&sb, content)
	}
	text := strings.TrimSpace(blankRunRe.ReplaceAllString(sb.String(), "\n\n"))
	if text == "" || !mostlyPrintable(text) {
		return "", fmt.Errorf("%w: no extractable text in PDF (%d text streams; scanned pages or CID-encoded fonts need OCR or a full PDF library)", ErrUnsupported, streams)
	}
	return text, nil
}

// pdfContentText interprets the text operators of one content stream.
// String operands collect in one reused buffer until their operator, so
// the garbage per stream stays a small multiple of its text.
func pdfContentText(b *strings.Builder, c []byte) {
	var pending []byte // string operands seen since the last operator
	for i := 0; i < len(c); {
		ch := c[i]
		switch {
		case ch == '(':
			var n int
			pending, n = appendPDFLiteral(pending, c[i:])
			i += n
		case ch == '<' && i+1 < len(c) && c[i+1] != '<':
			j := bytes.IndexByte(c[i:], '>')
			if j < 0 {
				return
			}
			pending = append(pending, pdfHex(c[i+1:i+j])...)
			i += j + 1
		case ch == '%':
			for i < len(c) && c[i] != '\n' && c[i] != '\r' {
				i++
			}
		case isPDFSpace(ch) || ch == '[' || ch == ']' || ch == '/' || ch == '<' || ch == '>' || ch == '{' || ch == '}':
			i++
		default:
			j := i
			for j < len(c) && !isPDFSpace(c[j]) && !strings.ContainsRune("()<>[]{}/%", rune(c[j])) {
				j++
			}
			op := c[i:j]
			i = j
			switch string(op) {
			case "Tj", "TJ":
				b.Write(pending)
			case "'", "\"":
				b.WriteByte('\n')
				b.Write(pending)
			case "Td", "TD", "T*", "Tm":
				b.WriteByte('\n')
			case "ET":
				b.WriteString("\n")
			}
			if len(op) > 0 && !isPDFNumber(op) {
				pending = pending[:0]
			}
		}
	}
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFNumber(s []byte) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+') {
			return false
		}
	}
	return true
}

// appendPDFLiteral decodes a (literal string) with nesting and escapes,
// appending the text (bytes as Latin-1) to dst; it returns dst and the
// bytes consumed.
func appendPDFLiteral(dst []byte, c []byte) ([]byte, int) {
	depth := 0
	i := 0
	for ; i < len(c); i++ {
		ch := c[i]
		switch {
		case ch == '(':
			if depth > 0 {
				dst = append(dst, '(')
			}
			depth++
		case ch == ')':
			depth--
			if depth == 0 {
				return dst, i + 1
			}
			dst = append(dst, ')')
		case ch == '\\' && i+1 < len(c):
			i++
			switch e := c[i]; e {
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'b', 'f':
			case '\r', '\n':
			default:
				if e >= '0' && e <= '7' {
					v := 0
					k := 0
					for ; k < 3 && i+k < len(c) && c[i+k] >= '0' && c[i+k] <= '7'; k++ {
						v = v*8 + int(c[i+k]-'0')
					}
					i += k - 1
					dst = utf8.AppendRune(dst, rune(v&0xff))
				} else {
					dst = utf8.AppendRune(dst, rune(e))
				}
			}
		default:
			dst = utf8.AppendRune(dst, rune(ch))
		}
	}
	return dst, i
}

// pdfHex decodes a <hex string>: two-byte big-endian code units when it
// starts with a UTF-16 BOM, else bytes as Latin-1.
func pdfHex(h []byte) string {
	var raw []byte
	var hi byte
	half := false
	for _, c := range h {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			continue
		}
		if half {
			raw = append(raw, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		raw = append(raw, hi<<4)
	}
	if bytes.HasPrefix(raw, []byte{0xFE, 0xFF}) {
		out, err := xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM).NewDecoder().Bytes(raw)
		if err == nil {
			return string(out)
		}
	}
	r := make([]rune, len(raw))
	for i, c := range raw {
		r[i] = rune(c)
	}
	return string(r)
}

// mostlyPrintable rejects text extracted through a font encoding we do not
// understand, which comes out as control characters and symbols.
func mostlyPrintable(s string) bool {
	good, total := 0, 0
	for _, r := range s {
		total++
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) || unicode.IsPunct(r) {
			good++
		}
	}
	return total > 0 && good*10 >= total*8
}
