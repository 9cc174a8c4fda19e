package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// SendFile uploads data and posts it as an m.file named name, as a client
// does; a caption (MSC2530: body differs from filename) travels with it.
func (u *UserClient) SendFile(ctx context.Context, roomID id.RoomID, name, mimeType string, data []byte, caption string) (id.EventID, error) {
	up, err := u.cli.UploadMedia(ctx, mautrix.ReqUploadMedia{
		Content: bytes.NewReader(data), ContentLength: int64(len(data)), ContentType: mimeType, FileName: name,
	})
	if err != nil {
		return "", fmt.Errorf("failed to upload %s as %s: %w", name, u.cli.UserID, err)
	}
	body := name
	if caption != "" {
		body = caption
	}
	content := &event.MessageEventContent{
		MsgType: event.MsgFile, Body: body, FileName: name, URL: up.ContentURI.CUString(),
		Info: &event.FileInfo{MimeType: mimeType, Size: len(data)},
	}
	resp, err := u.cli.SendMessageEvent(ctx, roomID, event.EventMessage, content)
	if err != nil {
		return "", fmt.Errorf("failed to send %s to %s as %s: %w", name, roomID, u.cli.UserID, err)
	}
	return resp.EventID, nil
}

// Download fetches the content of an mxc:// URI as the user.
func (u *UserClient) Download(ctx context.Context, uri id.ContentURIString) ([]byte, error) {
	parsed, err := uri.Parse()
	if err != nil {
		return nil, fmt.Errorf("failed to parse %s: %w", uri, err)
	}
	resp, err := u.cli.Download(ctx, parsed)
	if err != nil {
		return nil, fmt.Errorf("failed to download %s as %s: %w", uri, u.cli.UserID, err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
