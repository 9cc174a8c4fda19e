package matrix

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/actors"
)

const (
	testMXC    = "mxc://hs.test/AbCdEf123"
	downloadV1 = "/_matrix/client/v1/media/download/hs.test/AbCdEf123"
	downloadV3 = "/_matrix/media/v3/download/hs.test/AbCdEf123"
	uploadPath = "/_matrix/media/v3/upload"
)

// randomBytes is n bytes no compression or chunking shortcut could fake.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random bytes: %v", err)
	}
	return b
}

// serveBytes answers like a media repository with data.
func serveBytes(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
	}
}

// signalWriter collects what it is given and closes reached once it holds
// at least at bytes.
type signalWriter struct {
	buf     bytes.Buffer
	at      int
	once    sync.Once
	reached chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	n, err := s.buf.Write(p)
	if s.buf.Len() >= s.at {
		s.once.Do(func() { close(s.reached) })
	}
	return n, err
}

// TestDownloadStreams: the authenticated v1 endpoint's body arrives in the
// writer byte for byte, and while the homeserver is still sending (it is
// streamed, not buffered first). Only v1 is asked, with the access token.
func TestDownloadStreams(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	data := randomBytes(t, 384<<10)
	half := len(data) / 2
	w := &signalWriter{at: half, reached: make(chan struct{})}
	var streamed atomic.Bool
	hs.handle(t, routeDownloadV1, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/octet-stream")
		rw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = rw.Write(data[:half])
		rw.(http.Flusher).Flush()
		// The rest only once the first half reached the writer: a client
		// that reads the whole body before writing would wait here.
		select {
		case <-w.reached:
			streamed.Store(true)
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			return
		}
		_, _ = rw.Write(data[half:])
	})

	err := within(t, 20*time.Second, "Download", func() error { return c.Download(testContext(t), actors.Media{URL: testMXC}, w) })
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	if !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatalf("writer got %d bytes, not the %d served (or different ones)", w.buf.Len(), len(data))
	}
	if !streamed.Load() {
		t.Fatal("the writer got nothing before the whole body had arrived: the download is not streamed")
	}
	reqs := hs.requests()
	if len(reqs) != 1 {
		t.Fatalf("homeserver got %d requests, want 1: %v", len(reqs), reqs)
	}
	wantRequest(t, reqs[0], "GET", downloadV1, "")
	if reqs[0].Auth != "Bearer tok" {
		t.Fatalf("v1 download sent Authorization %q, want the access token", reqs[0].Auth)
	}
}

// TestDownloadFallsBackToV3: a homeserver that does not know the v1 media
// endpoint (404 or 405 M_UNRECOGNIZED, or a bare 404) is asked on the legacy
// /_matrix/media/v3/download endpoint.
func TestDownloadFallsBackToV3(t *testing.T) {
	tests := []struct {
		name string
		v1   http.HandlerFunc
	}{
		{"404 M_UNRECOGNIZED", func(w http.ResponseWriter, _ *http.Request) {
			matrixError(w, http.StatusNotFound, "M_UNRECOGNIZED", "Unrecognized request")
		}},
		{"405 M_UNRECOGNIZED", func(w http.ResponseWriter, _ *http.Request) {
			matrixError(w, http.StatusMethodNotAllowed, "M_UNRECOGNIZED", "Unrecognized request")
		}},
		{"plain 404 without JSON", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "404 page not found", http.StatusNotFound)
		}},
		{"empty 404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			data := randomBytes(t, 200<<10)
			hs.handle(t, routeDownloadV1, tc.v1)
			hs.handle(t, routeDownloadV3, serveBytes(data))

			var buf bytes.Buffer
			if err := c.Download(testContext(t), actors.Media{URL: testMXC}, &buf); err != nil {
				t.Fatalf("Download: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), data) {
				t.Fatalf("writer got %d bytes, not the %d served by v3 (or different ones)", buf.Len(), len(data))
			}
			reqs := hs.requests()
			if len(reqs) != 2 {
				t.Fatalf("homeserver got %d requests, want v1 then v3: %v", len(reqs), reqs)
			}
			wantRequest(t, reqs[0], "GET", downloadV1, "")
			wantRequest(t, reqs[1], "GET", downloadV3, "")
		})
	}
}

// TestDownloadErrors: an answer about the media itself (it does not exist,
// it may not be seen) is final: no second try on v3, an error that says
// what failed and keeps the homeserver's errcode, nothing written. When v3
// does not know the media either, that is the error.
func TestDownloadErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		errcode  string
		fallback bool // v1 said unrecognized, v3 is asked too
	}{
		{"404 M_NOT_FOUND", http.StatusNotFound, "M_NOT_FOUND", false},
		{"403 M_FORBIDDEN", http.StatusForbidden, "M_FORBIDDEN", false},
		{"v3 404 M_NOT_FOUND after v1 M_UNRECOGNIZED", http.StatusNotFound, "M_NOT_FOUND", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			failing := func(w http.ResponseWriter, _ *http.Request) { matrixError(w, tc.status, tc.errcode, "no") }
			if tc.fallback {
				hs.handle(t, routeDownloadV1, func(w http.ResponseWriter, _ *http.Request) {
					matrixError(w, http.StatusNotFound, "M_UNRECOGNIZED", "Unrecognized request")
				})
				hs.handle(t, routeDownloadV3, failing)
			} else {
				hs.handle(t, routeDownloadV1, failing)
				hs.handle(t, routeDownloadV3, serveBytes([]byte("must not be fetched")))
			}

			var buf bytes.Buffer
			err := c.Download(testContext(t), actors.Media{URL: testMXC}, &buf)
			assertMatrixError(t, err, "failed to download "+testMXC, tc.errcode)
			if buf.Len() != 0 {
				t.Fatalf("writer got %q on a failed download", buf.Bytes())
			}
			reqs := hs.requests()
			want := []string{downloadV1}
			if tc.fallback {
				want = append(want, downloadV3)
			}
			if len(reqs) != len(want) {
				t.Fatalf("homeserver got %d requests, want %d: %v", len(reqs), len(want), reqs)
			}
			for i, p := range want {
				wantRequest(t, reqs[i], "GET", p, "")
			}
		})
	}
}

// TestDownloadRefusesNonMXC: only mxc://server/id is fetched; anything
// else is an error before any request.
func TestDownloadRefusesNonMXC(t *testing.T) {
	for _, u := range []string{
		"", "https://hs.test/_matrix/media/v3/download/hs.test/x", "mxc://", "mxc://hs.test", "mxc://hs.test/",
		"MXC://hs.test/x", "/hs.test/x",
	} {
		t.Run(fmt.Sprintf("%q", u), func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			var buf bytes.Buffer
			err := c.Download(testContext(t), actors.Media{URL: u}, &buf)
			if err == nil || !strings.Contains(err.Error(), "not an mxc:// URI") {
				t.Fatalf("error %v, want one saying it is not an mxc:// URI", err)
			}
			if reqs := hs.requests(); len(reqs) != 0 {
				t.Fatalf("homeserver got requests for %q: %v", u, reqs)
			}
			if buf.Len() != 0 {
				t.Fatalf("writer got %d bytes", buf.Len())
			}
		})
	}
}

var errOverLimit = errors.New("over the limit")

// limitedWriter takes up to left bytes and fails after, like the
// workspace's size limit.
type limitedWriter struct {
	buf  bytes.Buffer
	left int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		n, _ := l.buf.Write(p[:l.left])
		l.left = 0
		return n, errOverLimit
	}
	l.left -= len(p)
	return l.buf.Write(p)
}

// TestDownloadWriterError: the writer's error ends the download and is
// returned (wrapped, still matching), on v1 and on the v3 fallback.
func TestDownloadWriterError(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			data := randomBytes(t, 256<<10)
			if fallback {
				hs.handle(t, routeDownloadV1, func(w http.ResponseWriter, _ *http.Request) {
					matrixError(w, http.StatusNotFound, "M_UNRECOGNIZED", "Unrecognized request")
				})
				hs.handle(t, routeDownloadV3, serveBytes(data))
			} else {
				hs.handle(t, routeDownloadV1, serveBytes(data))
			}
			const limit = 10_000
			w := &limitedWriter{left: limit}
			err := within(t, 20*time.Second, "Download", func() error { return c.Download(testContext(t), actors.Media{URL: testMXC}, w) })
			if !errors.Is(err, errOverLimit) {
				t.Fatalf("error %v, want the writer's %v", err, errOverLimit)
			}
			if !strings.Contains(err.Error(), "failed to download "+testMXC) {
				t.Fatalf("error %q does not say what failed", err)
			}
			if !bytes.Equal(w.buf.Bytes(), data[:limit]) {
				t.Fatalf("writer kept %d bytes, want the first %d of the body", w.buf.Len(), limit)
			}
		})
	}
}

// closeRecorder is file content that records being closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Int32
}

func (c *closeRecorder) Close() error {
	c.closed.Add(1)
	return nil
}

// seekableContent is content that can also seek, like an *os.File:
// mautrix keeps net/http from closing such a request body (to retry with
// it), so only SendFile itself can close it.
type seekableContent struct {
	*closeRecorder
	r *bytes.Reader
}

func (s seekableContent) Seek(offset int64, whence int) (int64, error) {
	return s.r.Seek(offset, whence)
}

// newContent is data as file content, seekable or not (the workspace's
// files are not), with the recorder of its Close calls.
func newContent(data []byte, seekable bool) (io.ReadCloser, *closeRecorder) {
	r := bytes.NewReader(data)
	rec := &closeRecorder{Reader: r}
	if seekable {
		return seekableContent{closeRecorder: rec, r: r}, rec
	}
	return rec, rec
}

// uploadSpy answers uploads with contentURI and records the Content-Type
// of each (the recorded requests keep no headers).
type uploadSpy struct {
	mu           sync.Mutex
	contentTypes []string
}

func (s *uploadSpy) handler(contentURI string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.contentTypes = append(s.contentTypes, r.Header.Get("Content-Type"))
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, `{"content_uri":"`+contentURI+`"}`)
	}
}

func (s *uploadSpy) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.contentTypes...)
}

// TestSendFile: the content is uploaded as is, with its MIME type and name,
// then posted as an m.room.message whose msgtype follows the MIME type and
// whose url is the upload's. The content is closed.
func TestSendFile(t *testing.T) {
	tests := []struct {
		name, mime    string
		width, height int
		wantType      string
		wantInfo      string
		seekable      bool
	}{
		{"cat photo.png", "image/png", 640, 480, "m.image", `{"mimetype":"image/png","size":%d,"w":640,"h":480}`, false},
		{"cat photo.png", "image/png", 640, 480, "m.image", `{"mimetype":"image/png","size":%d,"w":640,"h":480}`, true},
		{"voice.ogg", "audio/ogg", 0, 0, "m.audio", `{"mimetype":"audio/ogg","size":%d}`, true},
		{"clip.mp4", "video/mp4", 0, 0, "m.video", `{"mimetype":"video/mp4","size":%d}`, true},
		{"report & notes.pdf", "application/pdf", 0, 0, "m.file", `{"mimetype":"application/pdf","size":%d}`, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s seekable=%v", tc.mime, tc.seekable), func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			spy := &uploadSpy{}
			hs.handle(t, routeUpload, spy.handler("mxc://hs.test/up-"+tc.wantType))
			data := randomBytes(t, 96<<10)
			content, rec := newContent(data, tc.seekable)

			eventID, err := c.SendFile(testContext(t), "!r:hs.test", actors.OutgoingFile{
				Name: tc.name, MIME: tc.mime, Size: int64(len(data)), Width: tc.width, Height: tc.height, Content: content,
			})
			if err != nil {
				t.Fatalf("SendFile: %v", err)
			}
			if eventID != "$sent" {
				t.Fatalf("event id %q, want the homeserver's $sent", eventID)
			}
			if rec.closed.Load() == 0 {
				t.Fatal("the content was not closed")
			}

			reqs := hs.requests()
			if len(reqs) != 2 {
				t.Fatalf("homeserver got %d requests, want the upload and the message: %v", len(reqs), reqs)
			}
			up := reqs[0]
			wantRequest(t, up, "POST", uploadPath, "")
			if !bytes.Equal(up.Body, data) {
				t.Fatalf("upload body is %d bytes, not the %d of the file (or different ones)", len(up.Body), len(data))
			}
			q, err := url.ParseQuery(up.Query)
			if err != nil || q.Get("filename") != tc.name {
				t.Fatalf("upload query %q, want filename=%q", up.Query, tc.name)
			}
			if up.Auth != "Bearer tok" {
				t.Fatalf("upload sent Authorization %q, want the access token", up.Auth)
			}
			if got := spy.types(); len(got) != 1 || got[0] != tc.mime {
				t.Fatalf("upload Content-Type %q, want %q", got, tc.mime)
			}
			wantRequest(t, reqs[1], "PUT", roomPath+"/send/m.room.message/*", fmt.Sprintf(
				`{"msgtype":%q,"body":%q,"filename":%q,"url":%q,"info":`+tc.wantInfo+`}`,
				tc.wantType, tc.name, tc.name, "mxc://hs.test/up-"+tc.wantType, len(data)))
		})
	}
}

// TestSendFileUploadFails: a refused upload is an error naming the file,
// with the homeserver's errcode; no message is sent, the content is closed.
func TestSendFileUploadFails(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	hs.handle(t, routeUpload, func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "Cannot upload files larger than 1 MiB")
	})
	data := randomBytes(t, 8<<10)
	content, rec := newContent(data, true)

	eventID, err := c.SendFile(testContext(t), "!r:hs.test", actors.OutgoingFile{
		Name: "huge.bin", MIME: "application/octet-stream", Size: int64(len(data)), Content: content,
	})
	assertMatrixError(t, err, "failed to upload huge.bin", "M_TOO_LARGE")
	if eventID != "" {
		t.Fatalf("event id %q on a failed upload", eventID)
	}
	if rec.closed.Load() == 0 {
		t.Fatal("the content was not closed")
	}
	reqs := hs.requests()
	if len(reqs) != 1 {
		t.Fatalf("homeserver got %d requests, want only the upload: %v", len(reqs), reqs)
	}
	wantRequest(t, reqs[0], "POST", uploadPath, "")
}

// TestSendFileMessageFails: an upload whose message is refused is an error
// naming the file and the room.
func TestSendFileMessageFails(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	hs.handle(t, routeSend, func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, http.StatusForbidden, "M_FORBIDDEN", "You are not in this room")
	})
	content, _ := newContent([]byte("hello"), false)
	eventID, err := c.SendFile(testContext(t), "!r:hs.test", actors.OutgoingFile{
		Name: "a.txt", MIME: "text/plain", Size: 5, Content: content,
	})
	assertMatrixError(t, err, "failed to send a.txt to !r:hs.test", "M_FORBIDDEN")
	if eventID != "" {
		t.Fatalf("event id %q on a failed send", eventID)
	}
	reqs := hs.requests()
	if len(reqs) != 2 {
		t.Fatalf("homeserver got %d requests, want the upload and the message: %v", len(reqs), reqs)
	}
	wantRequest(t, reqs[0], "POST", uploadPath, "")
	wantRequest(t, reqs[1], "PUT", roomPath+"/send/m.room.message/*",
		`{"msgtype":"m.file","body":"a.txt","filename":"a.txt","url":"mxc://hs.test/uploaded",
		"info":{"mimetype":"text/plain","size":5}}`)
}

func TestMsgTypeOf(t *testing.T) {
	for mimeType, want := range map[string]event.MessageType{
		"image/png":                 event.MsgImage,
		"image/jpeg":                event.MsgImage,
		"image/gif":                 event.MsgImage,
		"audio/ogg":                 event.MsgAudio,
		"audio/ogg; codecs=opus":    event.MsgAudio,
		"audio/mpeg":                event.MsgAudio,
		"video/mp4":                 event.MsgVideo,
		"video/webm":                event.MsgVideo,
		"application/pdf":           event.MsgFile,
		"application/octet-stream":  event.MsgFile,
		"text/plain; charset=utf-8": event.MsgFile,
		"":                          event.MsgFile,
		"imagery/png":               event.MsgFile,
		"application/vnd.image/png": event.MsgFile,
	} {
		if got := msgTypeOf(mimeType); got != want {
			t.Errorf("msgTypeOf(%q) = %q, want %q", mimeType, got, want)
		}
	}
}

// TestDownloadDecrypts: an encrypted room's attachment is decrypted while
// it streams into the writer; a file whose content does not match its hash
// (tampered with, or another file) fails, and so does a key that is not one.
func TestDownloadDecrypts(t *testing.T) {
	data := randomBytes(t, 300<<10)
	file := attachment.NewEncryptedFile()
	ciphertext := file.Encrypt(data)
	key, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(ciphertext)
	tampered[1000] ^= 1
	tests := []struct {
		name    string
		served  []byte
		key     string
		wantErr string
	}{
		{"the file", ciphertext, string(key), ""},
		{"tampered with", tampered, string(key), "SHA-256"},
		{"not a key", ciphertext, `{"v":"v2","key":"nope"`, "unreadable file key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			hs.handle(t, routeDownloadV1, serveBytes(tc.served))
			var buf bytes.Buffer
			err := c.Download(testContext(t), actors.Media{URL: testMXC, Key: tc.key}, &buf)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Download: %v", err)
			case tc.wantErr == "" && !bytes.Equal(buf.Bytes(), data):
				t.Fatalf("the writer got %d bytes, not the %d-byte plaintext", buf.Len(), len(data))
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Download = %v, want an error about %q", err, tc.wantErr)
			}
		})
	}
}
