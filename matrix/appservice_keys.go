package matrix

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Keys pushed in transactions. The crypto machine needs what a sync of the
// bot's device carries besides room events: to-device events (room keys
// and key requests from the users' devices), device-list changes and
// one-time key counts. Homeservers that implement MSC2409 (to-device
// events for appservices) and MSC3202 (device lists and key counts) push
// them in transactions, Synapse under the unstable names below when its
// experimental features msc2409_to_device_messages_enabled and
// msc3202_transaction_extensions are on. Dendrite does not: there the bot
// syncs its device for them alone (todevice.go, RunToDevice), and an
// operator whose homeserver pushes them sets matrix.appservice.to_device:
// push to skip that sync. Whatever a transaction carries is handed to the
// crypto machine either way: when both paths deliver one to-device
// message, the machine drops the second as a duplicate Olm message.

// transactionKeys are the parts of a transaction for the crypto machine,
// under their stable and their unstable names.
type transactionKeys struct {
	ToDevice        []*event.Event `json:"to_device,omitempty"`
	MSC2409ToDevice []*event.Event `json:"de.sorunome.msc2409.to_device,omitempty"`

	DeviceLists        *mautrix.DeviceLists `json:"device_lists,omitempty"`
	MSC3202DeviceLists *mautrix.DeviceLists `json:"org.matrix.msc3202.device_lists,omitempty"`

	OTKCounts        otkCounts `json:"device_one_time_keys_count,omitempty"`
	MSC3202OTKCounts otkCounts `json:"org.matrix.msc3202.device_one_time_keys_count,omitempty"`
}

// otkCounts are keyed by user, then device: a transaction speaks for every
// device of the appservice's users. (Unused fallback key types are not
// read: the crypto machine does not read them from a sync either.)
type otkCounts map[id.UserID]map[id.DeviceID]mautrix.OTKCount

// empty reports whether the transaction carries nothing for the crypto
// machine.
func (k *transactionKeys) empty() bool {
	return len(k.toDevice()) == 0 && k.deviceLists() == nil && k.otkCounts() == nil
}

func (k *transactionKeys) toDevice() []*event.Event {
	if k.ToDevice != nil {
		return k.ToDevice
	}
	return k.MSC2409ToDevice
}

func (k *transactionKeys) deviceLists() *mautrix.DeviceLists {
	if k.DeviceLists != nil {
		return k.DeviceLists
	}
	return k.MSC3202DeviceLists
}

func (k *transactionKeys) otkCounts() otkCounts {
	if k.OTKCounts != nil {
		return k.OTKCounts
	}
	return k.MSC3202OTKCounts
}

// digest sums what the transaction carries for the crypto machine, for its
// handled-mark (txnMark): those parts have no event ids.
func (k *transactionKeys) digest() []byte {
	if k.empty() {
		return nil
	}
	raw, err := json.Marshal(k)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(raw)
	return sum[:]
}

// pushedKeys hands the crypto machine what a transaction carries for the
// bot's device, before the transaction's room events are handed over (a
// room key pushed with the message it opens is then there when the message
// is decrypted), as ProcessSyncResponse hands it a sync response. The
// parts meant for the appservice's other devices are not the bot's; a
// transaction without a key count for the bot's device leaves the count
// alone, where a sync response without one would read as none left.
func (s *syncer) pushedKeys(ctx context.Context, keys *transactionKeys) {
	cs := s.c.crypto
	if cs == nil || keys.empty() {
		return
	}
	user, device := s.c.cli.UserID, s.c.cli.DeviceID
	log := zerolog.Ctx(ctx)
	if dl := keys.deviceLists(); dl != nil {
		cs.mach.HandleDeviceLists(ctx, dl, "")
	}
	n := 0
	for _, evt := range keys.toDevice() {
		if evt == nil || (evt.ToUserID != "" && evt.ToUserID != user) || (evt.ToDeviceID != "" && evt.ToDeviceID != device) {
			continue
		}
		evt.Type.Class = event.ToDeviceEventType
		if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			log.Warn().Err(err).Str("event_type", evt.Type.Type).Msg("failed to parse a pushed to-device event")
			continue
		}
		cs.mach.HandleToDeviceEvent(ctx, evt)
		n++
	}
	if count, ok := keys.otkCounts()[user][device]; ok {
		count.UserID, count.DeviceID = user, device
		cs.mach.HandleOTKCounts(ctx, &count)
	}
	cs.mach.MarkOlmHashSavePoint(ctx)
	log.Debug().Int("to_device", n).Msg("keys pushed in an appservice transaction handed to the crypto machine")
}
