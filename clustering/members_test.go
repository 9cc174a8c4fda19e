package clustering_test

import (
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/clustering"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// Only live members that advertised an actor system at a usable address
// are cluster members.
func TestMembers(t *testing.T) {
	tests := []struct {
		name string
		in   pgstore.MemberStatus
		want string // "" for no member
	}{
		{"live and advertised", pgstore.MemberStatus{ID: "a", Live: true, ActorSystemID: "sysA", ActorAddress: "127.0.0.1:4020", Kinds: []string{"room"}}, "sysA@127.0.0.1:4020[room]"},
		{"session gone", pgstore.MemberStatus{ID: "b", Live: false, ActorSystemID: "sysB", ActorAddress: "127.0.0.1:4021"}, ""},
		{"not advertised yet", pgstore.MemberStatus{ID: "c", Live: true}, ""},
		{"address without a port", pgstore.MemberStatus{ID: "d", Live: true, ActorSystemID: "sysD", ActorAddress: "127.0.0.1"}, ""},
		{"port not a number", pgstore.MemberStatus{ID: "e", Live: true, ActorSystemID: "sysE", ActorAddress: "127.0.0.1:x"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := clustering.Members([]pgstore.MemberStatus{tc.in})
			switch {
			case tc.want == "" && len(got) != 0:
				t.Fatalf("got %v, want no member", got)
			case tc.want != "" && len(got) != 1:
				t.Fatalf("got %v, want %s", got, tc.want)
			case tc.want != "":
				m := got[0]
				if s := m.Id + "@" + m.Address() + "[" + strings.Join(m.Kinds, ",") + "]"; s != tc.want {
					t.Fatalf("got %s, want %s", s, tc.want)
				}
			}
		})
	}
}
