package openai

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Streams are server-sent events whose data lines each hold one JSON
// object, ended by a "data: [DONE]" event.
const doneData = "[DONE]"

// EventWriter writes a stream's events to an HTTP response, flushing each
// so the client sees tokens as they come.
type EventWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

// NewEventWriter sends the stream's headers (200, text/event-stream, no
// caching or proxy buffering) and returns a writer for its events.
func NewEventWriter(w http.ResponseWriter) *EventWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &EventWriter{w: w, f: f}
}

// Send writes v as one event.
func (e *EventWriter) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", b); err != nil {
		return err
	}
	if e.f != nil {
		e.f.Flush()
	}
	return nil
}

// Done ends the stream.
func (e *EventWriter) Done() {
	fmt.Fprint(e.w, "data: "+doneData+"\n\n")
	if e.f != nil {
		e.f.Flush()
	}
}

// EventReader reads a stream's events: the data of each "data:" line, up
// to [DONE] or the end of the body. Comments, event names and the blank
// lines between events are skipped.
type EventReader struct {
	sc   *bufio.Scanner
	done bool
}

// maxEventBytes bounds one event line; a chunk carries a few tokens, but
// a final event may carry a whole answer or a long list of citations.
const maxEventBytes = 8 << 20

// NewEventReader reads events from r.
func NewEventReader(r io.Reader) *EventReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEventBytes)
	return &EventReader{sc: sc}
}

// Next returns the next event's data, or io.EOF after [DONE] or at the end
// of the body; a read error is returned as it is.
func (e *EventReader) Next() ([]byte, error) {
	for !e.done && e.sc.Scan() {
		data, ok := strings.CutPrefix(e.sc.Text(), "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data == doneData {
			e.done = true
			break
		}
		return []byte(data), nil
	}
	if err := e.sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}
