package rag

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func gbk(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func makeDocx(t *testing.T, body, title string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("word/document.xml")
	fmt.Fprintf(w, `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>%s</w:body></w:document>`, body)
	if title != "" {
		w, _ = zw.Create("docProps/core.xml")
		fmt.Fprintf(w, `<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>%s</dc:title></cp:coreProperties>`, title)
	}
	zw.Close()
	return buf.Bytes()
}

// makePDF writes a minimal PDF whose page content stream is content,
// Flate-compressed when flate is set.
func makePDF(content string, flate bool) []byte {
	data := []byte(content)
	filter := ""
	if flate {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data, filter = z.Bytes(), "/Filter /FlateDecode "
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	fmt.Fprintf(&b, "4 0 obj << %s/Length %d >>\nstream\n", filter, len(data))
	b.Write(data)
	b.WriteString("\nendstream\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

func TestExtract(t *testing.T) {
	pdfContent := "BT /F1 12 Tf 72 712 Td (Hello PDF world.) Tj 0 -14 Td [(Second) -250 (line \\(ok\\))] TJ ET"
	tests := []struct {
		name      string
		file      string
		data      []byte
		opts      ExtractOptions
		wantTitle string
		wantText  string
	}{
		{"utf8 text", "a.txt", []byte("\xEF\xBB\xBF你好，世界"), ExtractOptions{}, "a", "你好，世界"},
		{"gbk text", "gbk.txt", gbk(t, "中文编码测试。第二句！"), ExtractOptions{}, "gbk", "中文编码测试。第二句！"},
		{"utf16 text", "u.txt", []byte{0xFF, 0xFE, 'h', 0, 'i', 0}, ExtractOptions{}, "u", "hi"},
		{"markdown title", "guide.md", []byte("intro\n# 用户指南\n正文"), ExtractOptions{}, "用户指南", "intro\n# 用户指南\n正文"},
		{"html", "page.html", []byte("<html><head><title>标题 &amp; more</title><style>p{}</style></head><body><p>第一段</p><script>var x=1;</script><div>第二<b>段</b> &lt;ok&gt;</div><!-- hidden --></body></html>"), ExtractOptions{}, "标题 & more", "第一段\n\n第二段 <ok>"},
		{"json array all fields", "d.json", []byte(`[{"q":"问题一","a":"答案一","n":3},{"q":"问题二"}]`), ExtractOptions{}, "d", "答案一\n问题一\n\n问题二"},
		{"jsonl chosen fields", "d.jsonl", []byte("{\"title\":\"T1\",\"body\":\"B1\",\"x\":\"no\"}\n\n{\"body\":\"B2\"}\n"), ExtractOptions{JSONFields: []string{"title", "body"}}, "d", "T1\nB1\n\nB2"},
		{"docx", "r.docx", makeDocx(t, `<w:p><w:r><w:t>第一段</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve">续 </w:t></w:r></w:p><w:p><w:r><w:t>第二段</w:t></w:r></w:p>`, "报告"), ExtractOptions{}, "报告", "第一段\t续 \n\n第二段"},
		{"pdf plain", "p.pdf", makePDF(pdfContent, false), ExtractOptions{}, "p", "Hello PDF world.\nSecondline (ok)"},
		{"pdf flate", "p.pdf", makePDF(pdfContent, true), ExtractOptions{}, "p", "Hello PDF world.\nSecondline (ok)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Extract(context.Background(), tt.file, tt.data, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Title != tt.wantTitle || doc.Text != tt.wantText {
				t.Errorf("got title %q text %q\nwant title %q text %q", doc.Title, doc.Text, tt.wantTitle, tt.wantText)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		data        []byte
		unsupported bool
	}{
		{"corrupt docx", "bad.docx", []byte("PK\x03\x04 not really a zip"), false},
		{"binary txt", "bin.txt", []byte{0x89, 'P', 'N', 'G', 0, 0, 1}, false},
		{"invalid encoding", "x.txt", []byte{0xff, 0xff, 0xff, 0x80}, false},
		{"bad json", "x.json", []byte("{oops"), false},
		{"bad jsonl line", "x.jsonl", []byte("{}\n{oops}\n"), false},
		{"not a pdf", "x.pdf", []byte("hello"), false},
		{"pdf without text", "scan.pdf", makePDF("q 100 0 0 100 0 0 cm /Im1 Do Q", false), true},
		{"encrypted pdf", "enc.pdf", []byte("%PDF-1.7\ntrailer << /Encrypt 5 0 R >>"), true},
		{"unknown extension", "x.xyz", []byte("data"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Extract(context.Background(), tt.file, tt.data, ExtractOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrUnsupported); got != tt.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v, want %v", err, got, tt.unsupported)
			}
		})
	}
}
