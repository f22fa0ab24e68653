package room_test

import (
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
)

func init() {
	room.SetRESTStore(func(serverURL string) room.Store {
		rc, err := rest.New(serverURL, "")
		if err != nil {
			panic(err) // the tests' own httptest URL: cannot be malformed
		}
		return roomrest.Store{C: rc}
	})
}
