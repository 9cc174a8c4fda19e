package actortest

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/surfaces-bot/surfaces/actors"
)

// SentFile is a file the fake was asked to post.
type SentFile struct {
	RoomID        string
	Name, MIME    string
	Size          int64
	Width, Height int
	Data          []byte
}

// AddMedia makes the fake's content repository hold data at mxcURL.
func (m *Matrix) AddMedia(mxcURL string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.media == nil {
		m.media = map[string][]byte{}
	}
	m.media[mxcURL] = data
}

// SentFiles returns the files posted so far.
func (m *Matrix) SentFiles() []SentFile {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SentFile(nil), m.files...)
}

// Download implements actors.MatrixMedia from the media AddMedia stored.
func (m *Matrix) Download(ctx context.Context, media actors.Media, w io.Writer) error {
	mxcURL := media.URL
	if err := m.wait(ctx, "Download"); err != nil {
		return err
	}
	if err := m.failure(ctx, "Download"); err != nil {
		return err
	}
	m.mu.Lock()
	data, ok := m.media[mxcURL]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("fake: no media at %s", mxcURL)
	}
	_, err := io.Copy(w, bytes.NewReader(data))
	return err
}

// SendFile implements actors.MatrixMedia: it reads the whole content and
// records it (Call.Text is the name).
func (m *Matrix) SendFile(ctx context.Context, roomID string, f actors.OutgoingFile) (string, error) {
	defer f.Content.Close()
	data, err := io.ReadAll(f.Content)
	if err != nil {
		return "", err
	}
	id, err := m.record(ctx, Call{Method: "SendFile", RoomID: roomID, Text: f.Name})
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files = append(m.files, SentFile{RoomID: roomID, Name: f.Name, MIME: f.MIME, Size: f.Size, Width: f.Width, Height: f.Height, Data: data})
	return id, nil
}
