package matrix

import (
	"context"
	"fmt"
	"net/http"
)

// masterRule is the path of the server-default push rule that, enabled,
// turns every notification of its account off (spec: "Predefined rules",
// .m.rule.master).
var masterRule = []any{"v3", "pushrules", "global", "override", ".m.rule.master", "enabled"}

// SilenceOwnNotifications turns the bot account's own push notifications
// off by enabling its .m.rule.master push rule: a bot has no phone
// to notify and reads no unread counts, yet the homeserver evaluates its
// push rules for every message in each of its rooms and, where they
// notify, stores a notification and the room's unread count for it, then
// updates them again when the bot's read receipt arrives. In Dendrite
// (its userapi) that is a notification row, the room's counts sent to the
// sync API and written there, and the bot's own /sync woken, per user
// message, all between the message and the bot's reply to it. Nothing a
// user sees depends on the bot's notifications. The rule is the
// account's: it is read at each start and written only when off, so an
// operator who disables it has it enabled again at the next start.
func (c *Client) SilenceOwnNotifications(ctx context.Context) error {
	url := c.cli.BuildClientURL(masterRule...)
	var rule struct {
		Enabled bool `json:"enabled"`
	}
	if _, err := c.cli.MakeRequest(ctx, http.MethodGet, url, nil, &rule); err != nil {
		return fmt.Errorf("failed to read the bot's master push rule: %w", err)
	}
	if rule.Enabled {
		return nil
	}
	if _, err := c.cli.MakeRequest(ctx, http.MethodPut, url, map[string]bool{"enabled": true}, nil); err != nil {
		return fmt.Errorf("failed to enable the bot's master push rule: %w", err)
	}
	return nil
}
