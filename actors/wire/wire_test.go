package wire_test

import (
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"

	"github.com/surfaces-bot/surfaces/actors/wire"
)

type ping struct {
	Room string
	N    int
}

func (p *ping) Serialize() (remote.RootSerialized, error) { return wire.Encode(p) }

type unregistered struct{}

func (u *unregistered) Serialize() (remote.RootSerialized, error) { return wire.Encode(u) }

func init() { wire.Register("wire_test.ping", (*ping)(nil)) }

// A registered message crosses as an Envelope, through protobuf's bytes as
// protoactor's remote sends it, and comes back as itself; an unknown type
// name or a broken body is an error, not a panic.
func TestEnvelopeRoundTrip(t *testing.T) {
	ser, err := (&ping{Room: "!r", N: 3}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(ser.(*wire.Envelope))
	if err != nil {
		t.Fatal(err)
	}
	var env wire.Envelope
	if err := proto.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	back, err := env.Deserialize()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := back.(*ping); !ok || p.Room != "!r" || p.N != 3 {
		t.Fatalf("got %#v", back)
	}

	for _, tc := range []struct {
		name string
		env  *wire.Envelope
		want string
	}{
		{"unknown type", &wire.Envelope{Type: "nope", Body: []byte(`{}`)}, `unknown message type "nope"`},
		{"broken body", &wire.Envelope{Type: "wire_test.ping", Body: []byte(`{`)}, "failed to decode wire_test.ping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.env.Deserialize(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := (&unregistered{}).Serialize(); err == nil {
		t.Fatal("an unregistered type was encoded")
	}
}
