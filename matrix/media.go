package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// Download implements actors.MatrixMedia: the authenticated media endpoint
// (/_matrix/client/v1/media) first, the legacy /_matrix/media/v3 one when
// the homeserver does not know it. The body is streamed into w, decrypted
// on the way when m is an encrypted attachment.
func (c *Client) Download(ctx context.Context, m actors.Media, w io.Writer) error {
	mxcURL := m.URL
	uri, err := id.ParseContentURI(mxcURL)
	if err != nil || uri.IsEmpty() {
		return fmt.Errorf("failed to download %q: not an mxc:// URI", mxcURL)
	}
	var file *attachment.EncryptedFile
	if m.Key != "" {
		file = &attachment.EncryptedFile{}
		if err := json.Unmarshal([]byte(m.Key), file); err != nil {
			return fmt.Errorf("failed to download %s: unreadable file key: %w", mxcURL, err)
		}
		if err := file.PrepareForDecryption(); err != nil {
			return fmt.Errorf("failed to download %s: %w", mxcURL, err)
		}
	}
	resp, err := c.cli.Download(ctx, uri)
	if err != nil && unrecognized(err) {
		_, resp, err = c.cli.MakeFullRequestWithResp(ctx, mautrix.FullRequest{
			Method:           http.MethodGet,
			URL:              c.cli.BuildURL(mautrix.MediaURLPath{"v3", "download", uri.Homeserver, uri.FileID}),
			DontReadResponse: true,
		})
	}
	if err != nil {
		return fmt.Errorf("failed to download %s: %w", mxcURL, err)
	}
	defer resp.Body.Close()
	if file == nil {
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("failed to download %s: %w", mxcURL, err)
		}
		return nil
	}
	plain := file.DecryptStream(resp.Body)
	if _, err := io.Copy(w, plain); err != nil {
		return fmt.Errorf("failed to download %s: %w", mxcURL, err)
	}
	// Close checks the hash: a mismatch means what was written is not the
	// file that was sent.
	if err := plain.Close(); err != nil {
		return fmt.Errorf("failed to decrypt %s: %w", mxcURL, err)
	}
	return nil
}

// unrecognized reports whether err says the endpoint does not exist here.
func unrecognized(err error) bool {
	var herr mautrix.HTTPError
	if errors.As(err, &herr) && herr.Response != nil && herr.Response.StatusCode == http.StatusNotFound {
		return herr.RespError == nil || herr.RespError.ErrCode != mautrix.MNotFound.ErrCode
	}
	return errors.Is(err, mautrix.MUnrecognized)
}

// SendFile implements actors.MatrixMedia: the content is uploaded streamed
// (its length known), then posted with its name, MIME type, size and, for
// images, dimensions.
func (c *Client) SendFile(ctx context.Context, roomID string, f actors.OutgoingFile) (string, error) {
	defer f.Content.Close()
	req := mautrix.ReqUploadMedia{Content: f.Content, ContentLength: f.Size, ContentType: f.MIME, FileName: f.Name}
	var file *attachment.EncryptedFile
	if c.crypto != nil && c.crypto.roomEncrypted(ctx, id.RoomID(roomID)) {
		// An encrypted room gets an encrypted attachment (AES-CTR keeps
		// the length); its key travels in the encrypted event.
		file = attachment.NewEncryptedFile()
		sealed := file.EncryptStream(f.Content)
		defer sealed.Close()
		req.Content, req.ContentType, req.FileName = sealed, "application/octet-stream", ""
	}
	up, err := c.cli.UploadMedia(ctx, req)
	if err != nil {
		return "", fmt.Errorf("failed to upload %s: %w", f.Name, err)
	}
	content := &event.MessageEventContent{
		MsgType:  msgTypeOf(f.MIME),
		Body:     f.Name,
		FileName: f.Name,
		URL:      up.ContentURI.CUString(),
		Info:     &event.FileInfo{MimeType: f.MIME, Size: int(f.Size), Width: f.Width, Height: f.Height},
	}
	if file != nil {
		// Closing the stream fills in the hash of what was uploaded.
		if err := req.Content.(io.Closer).Close(); err != nil {
			return "", fmt.Errorf("failed to encrypt %s: %w", f.Name, err)
		}
		content.URL, content.File = "", &event.EncryptedFileInfo{EncryptedFile: *file, URL: up.ContentURI.CUString()}
	}
	resp, err := c.cli.SendMessageEvent(ctx, id.RoomID(roomID), event.EventMessage, marked(ctx, content))
	if err != nil {
		return "", fmt.Errorf("failed to send %s to %s: %w", f.Name, roomID, err)
	}
	return resp.EventID.String(), nil
}

// msgTypeOf is the msgtype a client shows a file of mimeType best as.
func msgTypeOf(mimeType string) event.MessageType {
	switch {
	case strings.HasPrefix(mimeType, "image/"):
		return event.MsgImage
	case strings.HasPrefix(mimeType, "audio/"):
		return event.MsgAudio
	case strings.HasPrefix(mimeType, "video/"):
		return event.MsgVideo
	default:
		return event.MsgFile
	}
}
