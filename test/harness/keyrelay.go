package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// keyRelay plays the part of a homeserver that implements MSC2409 and
// MSC3202 (Synapse with its experimental features on), which Dendrite does
// not: it syncs the bot's device for its to-device events, device-list
// changes and one-time key counts, and pushes each sync's worth to the
// bot's appservice API as a transaction, under Synapse's unstable names,
// until the bot answers 200, as a homeserver retries. The bot itself then
// never syncs (matrix.appservice.to_device: push), so an encrypted
// conversation works only if what the relay pushes reaches its crypto
// machine.
type keyRelay struct {
	botURL, token string
	bot           id.UserID
	// Pushed counts the to-device events handed over.
	pushed atomic.Int64
	stop   context.CancelFunc
	done   chan struct{}
}

// relayRooms is the relay's filter's one room: no server makes it, so the
// sync carries no room.
const relayRooms = "!surfaces-key-relay:invalid"

// startKeyRelay reads the registration and starts relaying for the bot.
func startKeyRelay(ctx context.Context, hsURL string, bot id.UserID, registration string) (*keyRelay, error) {
	raw, err := os.ReadFile(registration)
	if err != nil {
		return nil, fmt.Errorf("key relay: %w", err)
	}
	var reg struct {
		URL     string `yaml:"url"`
		ASToken string `yaml:"as_token"`
		HSToken string `yaml:"hs_token"`
	}
	if err := yaml.Unmarshal(raw, &reg); err != nil {
		return nil, fmt.Errorf("key relay: %w", err)
	}
	cli, err := mautrix.NewClient(hsURL, bot, reg.ASToken)
	if err != nil {
		return nil, fmt.Errorf("key relay: %w", err)
	}
	whoami, err := cli.Whoami(ctx)
	if err != nil {
		return nil, fmt.Errorf("key relay: who is the bot's device: %w", err)
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r := &keyRelay{botURL: reg.URL, token: reg.HSToken, bot: bot, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.run(ctx, cli, whoami.DeviceID)
	}()
	return r, nil
}

// close stops the relay and waits for it.
func (r *keyRelay) close() {
	r.stop()
	<-r.done
}

func (r *keyRelay) run(ctx context.Context, cli *mautrix.Client, device id.DeviceID) {
	none := &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}}
	filter, _ := json.Marshal(&mautrix.Filter{
		Room:        &mautrix.RoomFilter{Rooms: []id.RoomID{relayRooms}, Timeline: none, State: none, Ephemeral: none, AccountData: none},
		Presence:    none,
		AccountData: none,
	})
	since := ""
	for n := 1; ctx.Err() == nil; {
		resp, err := cli.FullSyncRequest(ctx, mautrix.ReqSync{Since: since, Timeout: 30000, FilterID: string(filter)})
		if err != nil {
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		if len(resp.ToDevice.Events) > 0 || len(resp.DeviceLists.Changed) > 0 || len(resp.DeviceLists.Left) > 0 || since == "" ||
			resp.DeviceOTKCount.SignedCurve25519 < 50 {
			if !r.push(ctx, fmt.Sprintf("key-relay-%d", n), r.transaction(resp, device)) {
				return
			}
			n++
		}
		since = resp.NextBatch
	}
}

// transaction shapes a sync response as Synapse pushes it to an appservice.
func (r *keyRelay) transaction(resp *mautrix.RespSync, device id.DeviceID) []byte {
	toDevice := make([]map[string]any, 0, len(resp.ToDevice.Events))
	for _, evt := range resp.ToDevice.Events {
		toDevice = append(toDevice, map[string]any{
			"type": evt.Type.Type, "sender": evt.Sender, "content": evt.Content.VeryRaw,
			"to_user_id": r.bot, "to_device_id": device,
		})
	}
	count := resp.DeviceOTKCount
	body, _ := json.Marshal(map[string]any{
		"events":                          []any{},
		"de.sorunome.msc2409.to_device":   toDevice,
		"org.matrix.msc3202.device_lists": resp.DeviceLists,
		"org.matrix.msc3202.device_one_time_keys_count": map[id.UserID]map[id.DeviceID]any{
			r.bot: {device: map[string]int{"signed_curve25519": count.SignedCurve25519}},
		},
	})
	r.pushed.Add(int64(len(toDevice)))
	return body
}

// push PUTs a transaction until the bot answers 200 (it may be stopped or
// restarting), or ctx ends.
func (r *keyRelay) push(ctx context.Context, txnID string, body []byte) bool {
	url := r.botURL + "/_matrix/app/v1/transactions/" + txnID
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set("Authorization", "Bearer "+r.token)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		} else if errors.Is(err, context.Canceled) {
			return false
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return false
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
