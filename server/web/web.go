// Package web holds the page ragtune serve shows at /: plain HTML, CSS and
// JavaScript embedded in the binary, with no CDN and no build step. It is
// only assets; the API the page calls lives in package server.
package web

import (
	"embed"
	"mime"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Index is the page.
func Index() []byte {
	b, _ := assets.ReadFile("assets/index.html")
	return b
}

// Asset returns a static file by name (no directories) and its type.
func Asset(name string) (data []byte, contentType string, ok bool) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return nil, "", false
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return nil, "", false
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return b, ct, true
}
