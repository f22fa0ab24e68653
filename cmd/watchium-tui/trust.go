package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/session"
)

// admission is what the server said about entering a room.
type admission struct {
	Private bool   `json:"is_private"`
	Invite  string `json:"invite"` // set when we just created the room
}

func addInviteFlag(cmd *cobra.Command, g *globalFlags) {
	cmd.Flags().StringVar(&g.invite, "invite", "", "invite code of a private room (needed once: the membership is remembered)")
}

// admit asks the server to let us into roomID: a public room always; a
// private one when we are a member or redeem g.invite. create makes a new
// private room (join --private). A server without the room functions (no
// store, or a Supabase project without the migration) has only public
// rooms.
func admit(ctx context.Context, g globalFlags, k *session.Keeper, roomID string, create bool) (admission, error) {
	var a admission
	rc, err := restClient(g, k)
	if err != nil {
		return a, err
	}
	if create {
		if k == nil {
			return a, errors.New("a private room needs a signed-in user, and this server signs nobody in: run watchium-tui login, or join without --private")
		}
		err := rc.RPC(ctx, "create_private_room", map[string]any{"p_room_id": roomID}, &a)
		var re *rest.Error
		switch {
		case err == nil:
			return a, nil
		case errors.As(err, &re) && re.Status == 409:
			// Taken: ours (join it), or someone's public room (say so).
		case errors.As(err, &re) && re.Status == 404:
			return a, errors.New("this server has no private rooms (the embedded server without a store, or a Supabase project without watchium's migration)")
		default:
			return a, fmt.Errorf("creating private room %q: %w", roomID, err)
		}
	}
	args := map[string]any{"p_room_id": roomID, "p_invite": nil}
	if code := strings.TrimSpace(g.invite); code != "" {
		args["p_invite"] = code
	}
	err = rc.RPC(ctx, "join_room", args, &a)
	var re *rest.Error
	switch {
	case err == nil:
	case errors.As(err, &re) && (re.Status == 404 || re.Status == 401 && k == nil):
		// No room functions here, or a guest on a server without sign-in:
		// every room is public.
		if g.invite != "" || create {
			return a, fmt.Errorf("cannot use room %q: %s", roomID, re.Message)
		}
		return admission{}, nil
	case errors.As(err, &re) && re.Status/100 == 4:
		return a, fmt.Errorf("cannot enter room %q: %s", roomID, re.Message)
	default:
		return a, fmt.Errorf("entering room %q: %w", roomID, err)
	}
	if create && !a.Private {
		return a, fmt.Errorf("room %q already exists and is public: pick another name for a private room", roomID)
	}
	return a, nil
}

// inviteCommand is what a friend pastes to join.
func inviteCommand(g globalFlags, roomID, code string) string {
	cmd := "watchium-tui join " + roomID + " --invite " + code
	if g.server != defaultServer {
		cmd += " --server " + g.server
	}
	if g.key != "" {
		cmd += " --key " + g.key
	}
	return cmd
}

func newInviteCmd() *cobra.Command {
	var g globalFlags
	var asJSON, rotate bool
	cmd := &cobra.Command{
		Use:   "invite ROOM",
		Short: "Print a private room's invite code and the command a friend pastes",
		Long: `Prints the invite code of private room ROOM (any member may) and the command a
friend pastes to join. The code lets anyone who has it in, once: after that the
membership is remembered. --new replaces the code (the room's owner only; in
the room, /invite new); the old one stops working at once. /kick NAME removes
a member.`,
		Example: `  watchium-tui invite movie
  watchium-tui invite movie --json | jq -r .command`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			roomID := args[0]
			if err := validRoom(roomID); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 20*time.Second)
			defer cancel()
			k, _, err := openSession(ctx, g)
			if err != nil {
				return fmt.Errorf("invite needs a signed-in member: %w", unreachable(g.server, err))
			}
			rc, err := restClient(g, k)
			if err != nil {
				return err
			}
			fn := "room_invite"
			if rotate {
				fn = "rotate_invite"
			}
			var out struct {
				Invite string `json:"invite"`
			}
			if err := rc.RPC(ctx, fn, map[string]any{"p_room_id": roomID}, &out); err != nil {
				var re *rest.Error
				if errors.As(err, &re) {
					return fmt.Errorf("no invite for room %q: %s", roomID, re.Message)
				}
				return err
			}
			line := inviteCommand(g, roomID, out.Invite)
			if asJSON {
				raw, _ := json.Marshal(map[string]string{"room_id": roomID, "invite": out.Invite, "command": line})
				fmt.Fprintln(cmd.OutOrStdout(), string(raw))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "invite code for %s: %s\na friend joins with:\n  %s\n", roomID, out.Invite, line)
			return nil
		},
	}
	addServerFlags(cmd, &g)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"room_id", "invite", "command"}`)
	cmd.Flags().BoolVar(&rotate, "new", false, "replace the code first (owner only); the old one stops working")
	return cmd
}
