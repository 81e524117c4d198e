package rag

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// repeatedDeflate returns a raw deflate stream that inflates to prefix,
// then block repeated times times, then suffix, without compressing the
// whole: each part is compressed once by a fresh compressor and ended
// with a sync flush, so the parts are self-contained and can be repeated
// byte for byte. Bombs of hundreds of MiB cost milliseconds to build.
func repeatedDeflate(t *testing.T, prefix, block, suffix []byte, times int) (stream []byte, crc uint32, size uint64) {
	t.Helper()
	part := func(p []byte) []byte {
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, flate.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(p)
		fw.Flush() // non-final block, byte aligned
		return bytes.Clone(buf.Bytes())
	}
	var out bytes.Buffer
	out.Write(part(prefix))
	unit := part(block)
	for range times {
		out.Write(unit)
	}
	out.Write(part(suffix))
	out.Write([]byte{0x03, 0x00}) // an empty final block
	crc = crc32.Update(0, crc32.IEEETable, prefix)
	for range times {
		crc = crc32.Update(crc, crc32.IEEETable, block)
	}
	crc = crc32.Update(crc, crc32.IEEETable, suffix)
	return out.Bytes(), crc, uint64(len(prefix)) + uint64(times)*uint64(len(block)) + uint64(len(suffix))
}

// bombDocx builds a .docx whose word/document.xml inflates to about
// mib MiB of paragraphs. declared, when not zero, replaces the entry's
// uncompressed size in the archive (a lying header).
func bombDocx(t *testing.T, mib int, declared uint64) []byte {
	t.Helper()
	prefix := []byte(`<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	para := []byte(`<w:p><w:r><w:t>` + strings.Repeat("炸弹文本", 20) + `</w:t></w:r></w:p>`)
	block := bytes.Repeat(para, (1<<20)/len(para))
	stream, crc, size := repeatedDeflate(t, prefix, block, []byte(`</w:body></w:document>`), mib)
	if declared != 0 {
		size = declared
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(stream)), UncompressedSize64: size})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(stream)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pdfWithStreams writes a PDF holding the given stream bodies, each
// Flate-compressed already when flate is set.
func pdfWithStreams(streams [][]byte, flate bool) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	filter := ""
	if flate {
		filter = "/Filter /FlateDecode "
	}
	for i, s := range streams {
		fmt.Fprintf(&b, "%d 0 obj << %s/Length %d >>\nstream\n", i+4, filter, len(s))
		b.Write(s)
		b.WriteString("\nendstream\nendobj\n")
	}
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

// zlibRepeated returns a zlib stream inflating to block repeated times
// times (built as repeatedDeflate does).
func zlibRepeated(t *testing.T, block []byte, times int) []byte {
	t.Helper()
	raw, _, _ := repeatedDeflate(t, nil, block, nil, times)
	var a uint32 = 1 // Adler-32 is not checked before the data is read; a wrong one fails only at the end
	var b bytes.Buffer
	b.Write([]byte{0x78, 0xda})
	b.Write(raw)
	b.Write([]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	return b.Bytes()
}

// allocatedBy returns the bytes f allocates on the heap, in total.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func wantTooLarge(t *testing.T, err error, name, what string) {
	t.Helper()
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want one matching ErrTooLarge", err)
	}
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Name != name || tl.What != what {
		t.Fatalf("error %#v, want a *TooLargeError for %s naming %q", err, name, what)
	}
	if strings.ContainsAny(err.Error(), `/\`) {
		t.Errorf("message %q holds a path", err.Error())
	}
}

func TestExtractDocxBomb(t *testing.T) {
	bomb := bombDocx(t, 300, 0) // 300 MiB of XML
	t.Logf("docx of %d KiB inflating to 300 MiB", len(bomb)>>10)
	var err error
	alloc := allocatedBy(func() { _, err = Extract(context.Background(), "/srv/kb/uploads/bomb.docx", bomb, ExtractOptions{}) })
	wantTooLarge(t, err, "bomb.docx", "bytes of extracted content")
	t.Logf("refused after allocating %d KiB: %v", alloc>>10, err)
	if alloc > 16<<20 {
		t.Errorf("refusing the bomb allocated %d MiB, want under 16", alloc>>20)
	}
	if !strings.Contains(err.Error(), "MaxExtractBytes") || !strings.Contains(err.Error(), fmt.Sprint(DefaultMaxExtractBytes)) {
		t.Errorf("message %q does not name the limit and its setting", err)
	}
	_, err = Extract(context.Background(), "bomb.docx", bomb, ExtractOptions{LimitHint: "start the server with a larger --max-upload"})
	if !strings.Contains(err.Error(), "larger --max-upload") {
		t.Errorf("message %q does not carry the caller's hint", err)
	}

	// The same bomb declaring a small size: archive/zip stops at the
	// declared size, so nothing near 300 MiB is ever held.
	liar := bombDocx(t, 300, 4<<20)
	alloc = allocatedBy(func() { _, err = Extract(context.Background(), "liar.docx", liar, ExtractOptions{}) })
	if err == nil {
		t.Fatal("a docx lying about its size extracted")
	}
	if alloc > 128<<20 {
		t.Errorf("the lying bomb allocated %d MiB, want under 128", alloc>>20)
	}

	// Within the limit, the same construction extracts.
	doc, err := Extract(context.Background(), "ok.docx", bombDocx(t, 2, 0), ExtractOptions{})
	if err != nil || !strings.Contains(doc.Text, "炸弹文本") {
		t.Fatalf("2 MiB docx: %v (%d bytes of text)", err, len(doc.Text))
	}
	// And a limit below it refuses it.
	_, err = Extract(context.Background(), "ok.docx", bombDocx(t, 2, 0), ExtractOptions{MaxExtractBytes: 1 << 20})
	wantTooLarge(t, err, "ok.docx", "bytes of extracted content")
}

func TestExtractDocxManyEntries(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("word/document.xml")
	w.Write([]byte(`<w:document><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p></w:body></w:document>`))
	for i := range 200 {
		zw.Create(fmt.Sprintf("media/%d", i))
	}
	zw.Close()
	_, err := Extract(context.Background(), "many.docx", buf.Bytes(), ExtractOptions{MaxStreams: 100})
	wantTooLarge(t, err, "many.docx", "zip entries")
	if _, err := Extract(context.Background(), "many.docx", buf.Bytes(), ExtractOptions{}); err != nil {
		t.Errorf("201 entries under the default limit: %v", err)
	}

	// 50,000 entries: refused from the end record, before archive/zip
	// allocates anything per entry.
	buf.Reset()
	zw = zip.NewWriter(&buf)
	for i := range 50000 {
		zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprint(i), Method: zip.Store})
	}
	zw.Close()
	alloc := allocatedBy(func() { _, err = Extract(context.Background(), "huge.docx", buf.Bytes(), ExtractOptions{}) })
	wantTooLarge(t, err, "huge.docx", "zip entries")
	if alloc > 1<<20 {
		t.Errorf("refusing 50,000 entries allocated %d KiB", alloc>>10)
	}
}

func TestExtractPDFBomb(t *testing.T) {
	text := []byte("BT /F1 12 Tf 72 712 Td (" + strings.Repeat("bomb ", 200) + ") Tj ET\n")
	block := bytes.Repeat(text, (1<<20)/len(text))

	// Allocation bounds are a few times the budget: buffers grow by
	// doubling and the extracted text is built alongside; without the
	// budget they scale with what the file inflates to instead.
	const budget, bound = 16 << 20, 96 << 20

	// One stream inflating to 256 MiB.
	one := pdfWithStreams([][]byte{zlibRepeated(t, block, 256)}, true)
	t.Logf("PDF of %d KiB with one stream inflating to 256 MiB", len(one)>>10)
	var err error
	alloc := allocatedBy(func() {
		_, err = Extract(context.Background(), "one.pdf", one, ExtractOptions{MaxExtractBytes: budget})
	})
	wantTooLarge(t, err, "one.pdf", "bytes of extracted content")
	t.Logf("one stream: refused after allocating %d MiB", alloc>>20)
	if alloc > bound {
		t.Errorf("refusing a 256 MiB stream with a %d MiB budget allocated %d MiB, want under %d", budget>>20, alloc>>20, bound>>20)
	}

	// Many streams, each far below any per-stream cap, 100 MiB together.
	streams := make([][]byte, 100)
	for i := range streams {
		streams[i] = zlibRepeated(t, block, 1)
	}
	many := pdfWithStreams(streams, true)
	alloc = allocatedBy(func() {
		_, err = Extract(context.Background(), "many.pdf", many, ExtractOptions{MaxExtractBytes: budget})
	})
	wantTooLarge(t, err, "many.pdf", "bytes of extracted content")
	t.Logf("100 streams: refused after allocating %d MiB", alloc>>20)
	if alloc > bound {
		t.Errorf("refusing 100 × 1 MiB streams with a %d MiB budget allocated %d MiB, want under %d", budget>>20, alloc>>20, bound>>20)
	}

	// Too many streams, however small.
	tiny := make([][]byte, 300)
	for i := range tiny {
		tiny[i] = []byte("BT (x) Tj ET")
	}
	_, err = Extract(context.Background(), "tiny.pdf", pdfWithStreams(tiny, false), ExtractOptions{MaxStreams: 200})
	wantTooLarge(t, err, "tiny.pdf", "PDF streams")
	doc, err := Extract(context.Background(), "tiny.pdf", pdfWithStreams(tiny, false), ExtractOptions{})
	if err != nil || strings.Count(doc.Text, "x") != 300 {
		t.Errorf("300 streams under the default limit: %v, %d x's", err, strings.Count(doc.Text, "x"))
	}
}

func TestExtractTextTooLarge(t *testing.T) {
	data := bytes.Repeat([]byte("文本"), 1<<18) // 1.5 MiB
	_, err := Extract(context.Background(), "big.txt", data, ExtractOptions{MaxExtractBytes: 1 << 20})
	wantTooLarge(t, err, "big.txt", "bytes of extracted content")
	if _, err := Extract(context.Background(), "big.txt", data, ExtractOptions{MaxExtractBytes: -1}); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

// countdownCtx reports cancellation from the n-th time Err is asked on,
// so a test can cancel in the middle of an extraction deterministically.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestExtractCancelled(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"a.txt", []byte("text")},
		{"a.docx", makeDocx(t, `<w:p><w:r><w:t>x</w:t></w:r></w:p>`, "")},
		{"a.pdf", makePDF("BT (x) Tj ET", true)},
	} {
		if _, err := Extract(cancelled, f.name, f.data, ExtractOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v", f.name, err)
		}
	}

	// Cancelled partway through a PDF of 100 × 1 MiB streams, with no
	// size limit: extraction stops within a few streams.
	text := []byte("BT /F1 12 Tf 72 712 Td (" + strings.Repeat("work ", 200) + ") Tj ET\n")
	block := bytes.Repeat(text, (1<<20)/len(text))
	streams := make([][]byte, 100)
	for i := range streams {
		streams[i] = zlibRepeated(t, block, 1)
	}
	pdf := pdfWithStreams(streams, true)
	ctx := &countdownCtx{Context: context.Background()}
	ctx.left.Store(200)
	var err error
	alloc := allocatedBy(func() {
		_, err = Extract(ctx, "long.pdf", pdf, ExtractOptions{MaxExtractBytes: -1, MaxInflateRatio: -1})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-extraction: %v", err)
	}
	t.Logf("cancelled after allocating %d MiB", alloc>>20)
	if alloc > 32<<20 {
		t.Errorf("after cancellation the work went on: %d MiB allocated, want under 32 (the whole file inflates to 100)", alloc>>20)
	}
}

// TestExtractInflateRatio: the 130 KB PDF holding a 64 MiB stream
// fits the default MaxExtractBytes (128 MiB) but not the ratio limit, so
// it is refused before its text reaches chunking and indexing; a file
// under the 16 MiB floor, or with the ratio limit off, extracts.
func TestExtractInflateRatio(t *testing.T) {
	text := []byte("BT /F1 12 Tf 72 712 Td (" + strings.Repeat("bomb ", 200) + ") Tj ET\n")
	block := bytes.Repeat(text, (1<<20)/len(text))
	bomb := pdfWithStreams([][]byte{zlibRepeated(t, block, 64)}, true)
	var err error
	alloc := allocatedBy(func() { _, err = Extract(context.Background(), "bomb.pdf", bomb, ExtractOptions{}) })
	wantTooLarge(t, err, "bomb.pdf", "bytes of extracted content")
	var tl *TooLargeError
	if errors.As(err, &tl); tl.Field != "MaxInflateRatio" || tl.Limit != max(inflateRatioFloor, DefaultMaxInflateRatio*int64(len(bomb))) {
		t.Errorf("limit %d set by %s, want the ratio limit for a %d-byte file", tl.Limit, tl.Field, len(bomb))
	}
	if !strings.Contains(err.Error(), "times the file's size") {
		t.Errorf("message %q does not explain the ratio", err)
	}
	t.Logf("%d KiB PDF refused after allocating %d MiB: %v", len(bomb)>>10, alloc>>20, err)

	small := pdfWithStreams([][]byte{zlibRepeated(t, block, 12)}, true) // 12 MiB: under the floor
	if _, err := Extract(context.Background(), "small.pdf", small, ExtractOptions{}); err != nil {
		t.Errorf("a 12 MiB stream under the floor: %v", err)
	}
	big := pdfWithStreams([][]byte{zlibRepeated(t, block, 20)}, true)
	if _, err := Extract(context.Background(), "big.pdf", big, ExtractOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 20 MiB stream in a %d KiB file: %v, want ErrTooLarge", len(big)>>10, err)
	}
	if _, err := Extract(context.Background(), "big.pdf", big, ExtractOptions{MaxInflateRatio: -1}); err != nil {
		t.Errorf("the same with the ratio limit off: %v", err)
	}
}
