package matrix

import (
	"path/filepath"
	"slices"
	"testing"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/id"
)

// TestEndingARoomKeyEndsEveryMembersKey: in a cluster with grains, the
// ingress holder's machine ends a room's outbound key when its members or
// their devices change; every member's device of the bot must stop using
// its key for that room then, and the keys of other rooms, and of another
// bot whose id the bot's is a prefix of (LIKE's underscore included), stay.
func TestEndingARoomKeyEndsEveryMembersKey(t *testing.T) {
	const (
		room  = id.RoomID("!chat:hs.test")
		other = id.RoomID("!other:hs.test")
		bot   = id.UserID("@bot_1:hs.test")
	)
	ctx := testContext(t)
	db, err := openCryptoDB(filepath.Join(t.TempDir(), "crypto.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	stores := map[string]*crypto.SQLCryptoStore{}
	for _, account := range []string{"@bot_1:hs.test", "@bot_1:hs.test/member-a", "@bot_1:hs.test/member-b", "@botx1:hs.test/member-a", "@bot_1:hs.test.evil/member-a"} {
		s := crypto.NewSQLCryptoStore(db, dbutil.NoopLogger, account, "DEV", []byte("pickle"))
		if err := s.DB.Upgrade(ctx); err != nil {
			t.Fatal(err)
		}
		stores[account] = s
		for _, r := range []id.RoomID{room, other} {
			session, err := crypto.NewOutboundGroupSession(r, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AddOutboundGroupSession(ctx, session); err != nil {
				t.Fatal(err)
			}
		}
	}
	member := &memberCryptoStore{SQLCryptoStore: stores["@bot_1:hs.test/member-b"], user: bot}
	if err := member.RemoveOutboundGroupSession(ctx, room); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for account, s := range stores {
		for _, r := range []id.RoomID{room, other} {
			session, err := s.GetOutboundGroupSession(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if session != nil {
				kept = append(kept, account+" "+r.String())
			}
		}
	}
	slices.Sort(kept)
	want := []string{
		"@bot_1:hs.test !other:hs.test",
		"@bot_1:hs.test.evil/member-a !chat:hs.test",
		"@bot_1:hs.test.evil/member-a !other:hs.test",
		"@bot_1:hs.test/member-a !other:hs.test",
		"@bot_1:hs.test/member-b !other:hs.test",
		"@botx1:hs.test/member-a !chat:hs.test",
		"@botx1:hs.test/member-a !other:hs.test",
	}
	if !slices.Equal(kept, want) {
		t.Fatalf("outbound keys left:\n%q\nwant\n%q", kept, want)
	}
}
