package harness

import (
	"context"
	"fmt"
	"io"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// SendFile uploads data and posts it as an m.file named name, as a client
// does; a caption (MSC2530: body differs from filename) travels with it.
//
// In an encrypted room a client WithCrypto uploads the file encrypted and
// posts its key in the (encrypted) event's file object, as Element does.
func (u *UserClient) SendFile(ctx context.Context, roomID id.RoomID, name, mimeType string, data []byte, caption string) (id.EventID, error) {
	var file *attachment.EncryptedFile
	upload := mautrix.ReqUploadMedia{ContentBytes: data, ContentType: mimeType, FileName: name}
	if u.crypto != nil {
		if encrypted, _ := u.crypto.state.IsEncrypted(ctx, roomID); encrypted {
			file = attachment.NewEncryptedFile()
			upload = mautrix.ReqUploadMedia{ContentBytes: file.Encrypt(data), ContentType: "application/octet-stream"}
		}
	}
	up, err := u.cli.UploadMedia(ctx, upload)
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
	if file != nil {
		content.URL, content.File = "", &event.EncryptedFileInfo{EncryptedFile: *file, URL: up.ContentURI.CUString()}
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

// DownloadFile fetches the file of a file message as the user, decrypting
// an encrypted room's attachment (and checking its hash).
func (u *UserClient) DownloadFile(ctx context.Context, content *event.MessageEventContent) ([]byte, error) {
	if content.File == nil {
		return u.Download(ctx, content.URL)
	}
	data, err := u.Download(ctx, content.File.URL)
	if err != nil {
		return nil, err
	}
	if err := content.File.DecryptInPlace(data); err != nil {
		return nil, fmt.Errorf("failed to decrypt %s: %w", content.File.URL, err)
	}
	return data, nil
}
