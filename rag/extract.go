package rag

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
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
}

// Extensions lists the file extensions Extract understands.
var Extensions = []string{".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".docx", ".pdf"}

// Extract returns the text of a file given its name (for the extension)
// and content.
func Extract(name string, data []byte, o ExtractOptions) (Document, error) {
	base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	switch strings.ToLower(filepath.Ext(name)) {
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
		title, text, err := docxText(data)
		if title == "" {
			title = base
		}
		return Document{Title: title, Text: text}, err
	case ".pdf":
		text, err := pdfText(data)
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
// docProps/core.xml when present.
func docxText(data []byte) (title, text string, err error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", "", fmt.Errorf("open .docx (a zip archive): %w", err)
	}
	var doc, core *zip.File
	for _, f := range zr.File {
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
	read := func(f *zip.File) ([]byte, error) {
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, 1<<30))
	}
	body, err := read(doc)
	if err != nil {
		return "", "", fmt.Errorf("read word/document.xml: %w", err)
	}
	var b strings.Builder
	dec := xml.NewDecoder(bytes.NewReader(body))
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", fmt.Errorf("parse word/document.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				b.WriteByte('\t')
			case "br", "cr":
				b.WriteByte('\n')
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				b.WriteString("\n\n")
			}
		case xml.CharData:
			if inText {
				b.Write(t)
			}
		}
	}
	if core != nil {
		if cb, err := read(core); err == nil {
			var meta struct {
				Title string `xml:"title"`
			}
			if xml.Unmarshal(cb, &meta) == nil {
				title = strings.TrimSpace(meta.Title)
			}
		}
	}
	return title, strings.TrimSpace(blankRunRe.ReplaceAllString(b.String(), "\n\n")), nil
}

var pdfStreamRe = regexp.MustCompile(`(?s)<<(.*?)>>\s*stream\r?\n`)

// pdfText extracts text from PDF content streams that are uncompressed or
// Flate-compressed and show text with simple (single-byte) fonts: the Tj,
// TJ, ' and " operators, with Td/TD/T*/Tm/ET starting new lines. Encrypted
// PDFs, scanned images and CID/Identity-H fonts yield ErrUnsupported.
func pdfText(data []byte) (string, error) {
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return "", errors.New("not a PDF (no %PDF- header)")
	}
	if bytes.Contains(data, []byte("/Encrypt")) {
		return "", fmt.Errorf("%w: encrypted PDF", ErrUnsupported)
	}
	var b strings.Builder
	streams := 0
	for _, loc := range pdfStreamRe.FindAllSubmatchIndex(data, -1) {
		dict := data[loc[2]:loc[3]]
		start := loc[1]
		end := bytes.Index(data[start:], []byte("endstream"))
		if end < 0 {
			return "", errors.New("truncated PDF: stream without endstream")
		}
		raw := bytes.TrimRight(data[start:start+end], "\r\n")
		if bytes.Contains(dict, []byte("/Subtype/Image")) || bytes.Contains(dict, []byte("/Subtype /Image")) {
			continue
		}
		content := raw
		if bytes.Contains(dict, []byte("/FlateDecode")) {
			zr, err := zlib.NewReader(bytes.NewReader(raw))
			if err != nil {
				continue // a stream we cannot inflate (font program, broken); others may still hold text
			}
			content, err = io.ReadAll(io.LimitReader(zr, 1<<28))
			if err != nil && len(content) == 0 {
				continue
			}
		} else if bytes.Contains(dict, []byte("/Filter")) {
			continue // DCT, LZW, ... : images or rare encodings
		}
		if !bytes.Contains(content, []byte("BT")) {
			continue
		}
		streams++
		pdfContentText(&b, content)
	}
	text := strings.TrimSpace(blankRunRe.ReplaceAllString(b.String(), "\n\n"))
	if text == "" || !mostlyPrintable(text) {
		return "", fmt.Errorf("%w: no extractable text in PDF (%d text streams; scanned pages or CID-encoded fonts need OCR or a full PDF library)", ErrUnsupported, streams)
	}
	return text, nil
}

// pdfContentText interprets the text operators of one content stream.
func pdfContentText(b *strings.Builder, c []byte) {
	var strs []string // string operands seen since the last operator
	for i := 0; i < len(c); {
		ch := c[i]
		switch {
		case ch == '(':
			s, n := pdfLiteral(c[i:])
			strs = append(strs, s)
			i += n
		case ch == '<' && i+1 < len(c) && c[i+1] != '<':
			j := bytes.IndexByte(c[i:], '>')
			if j < 0 {
				return
			}
			strs = append(strs, pdfHex(c[i+1:i+j]))
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
			op := string(c[i:j])
			i = j
			switch op {
			case "Tj", "TJ":
				b.WriteString(strings.Join(strs, ""))
			case "'", "\"":
				b.WriteByte('\n')
				b.WriteString(strings.Join(strs, ""))
			case "Td", "TD", "T*", "Tm":
				b.WriteByte('\n')
			case "ET":
				b.WriteString("\n")
			}
			if op != "" && !isPDFNumber(op) {
				strs = strs[:0]
			}
		}
	}
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFNumber(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+') {
			return false
		}
	}
	return true
}

// pdfLiteral decodes a (literal string) with nesting and escapes; it
// returns the text (bytes as Latin-1) and the bytes consumed.
func pdfLiteral(c []byte) (string, int) {
	var out []rune
	depth := 0
	i := 0
	for ; i < len(c); i++ {
		ch := c[i]
		switch {
		case ch == '(':
			if depth > 0 {
				out = append(out, '(')
			}
			depth++
		case ch == ')':
			depth--
			if depth == 0 {
				return string(out), i + 1
			}
			out = append(out, ')')
		case ch == '\\' && i+1 < len(c):
			i++
			switch e := c[i]; e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
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
					out = append(out, rune(v&0xff))
				} else {
					out = append(out, rune(e))
				}
			}
		default:
			out = append(out, rune(ch))
		}
	}
	return string(out), i
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
