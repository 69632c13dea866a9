package tlsplan

import (
	"errors"
	"reflect"
	"testing"
)

func TestReload(t *testing.T) {
	nodes := []Served{
		{Pod: "c-2", Fingerprint: "old"},
		{Pod: "c-0", Fingerprint: "new"},
		{Pod: "c-1", Fingerprint: "old"},
		{Pod: "c-3", Err: errors.New("connection refused")},
	}
	reload, unread := Reload(nodes, "new")
	if want := []string{"c-1", "c-2"}; !reflect.DeepEqual(reload, want) {
		t.Errorf("reload %v, want %v", reload, want)
	}
	if want := []string{"c-3: connection refused"}; !reflect.DeepEqual(unread, want) {
		t.Errorf("unread %v, want %v", unread, want)
	}
	if reload, unread := Reload(nodes[1:2], "new"); reload != nil || unread != nil {
		t.Errorf("every node serves the wanted certificate: reload %v, unread %v", reload, unread)
	}
}
