package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/session"
)

// sessionStore is where sessions are kept: $XDG_CONFIG_HOME/watchium.
func sessionStore() session.Store { return session.Store{Dir: session.DefaultDir()} }

// errNoAuth means the server has no /auth/v1: the client goes on as the
// anon role, with a made-up user id, as before identities existed.
var errNoAuth = errors.New("the server has no sign-in")

// anonymousOff is a server that allows no anonymous sign-ins: commands go
// on as the anon role (live chat, no history), login is how to sign in.
type anonymousOff struct{ server string }

func (e anonymousOff) Error() string {
	return fmt.Sprintf("%s does not allow anonymous sign-ins: sign in with your email first:\n  watchium-tui login --server %s --email you@example.com", e.server, e.server)
}

// signInAnonymously makes a new anonymous user named name and saves its
// session.
func signInAnonymously(ctx context.Context, g globalFlags, c *session.Client, st session.Store) (*session.Session, error) {
	s, err := c.SignInAnonymously(ctx, map[string]any{"name": g.name})
	switch {
	case session.IsNotServed(err):
		return nil, errNoAuth
	case session.HasCode(err, "anonymous_provider_disabled"):
		return nil, anonymousOff{g.server}
	case session.HasCode(err, "over_request_rate_limit"):
		return nil, fmt.Errorf("%s refused a new sign-in: too many from your address; try again later", g.server)
	case err != nil:
		return nil, fmt.Errorf("signing in to %s: %w", g.server, err)
	}
	if err := st.Save(g.server, s); err != nil {
		return nil, err
	}
	return s, nil
}

// openSession returns a live session for g.server: the saved one (refreshed
// if it is about to expire), else a new anonymous one. note says what
// happened when the person should know (a new identity).
func openSession(ctx context.Context, g globalFlags) (k *session.Keeper, note string, err error) {
	c, err := session.NewClient(g.server, g.key)
	if err != nil {
		return nil, "", err
	}
	st := sessionStore()
	s, err := st.Load(g.server)
	if err != nil {
		return nil, "", err
	}
	if s == nil {
		if s, err = signInAnonymously(ctx, g, c, st); err != nil {
			return nil, "", err
		}
		return session.NewKeeper(c, st, g.server, s), "signed in anonymously as a new user (watchium-tui whoami)", nil
	}
	if time.Now().Before(session.RefreshAt(*s)) {
		// Ask the server whether it still knows the session (one round
		// trip, and the user's current metadata): a server restarted with
		// --data :memory: or a new --jwt-secret refuses tokens that have
		// not expired yet.
		u, err := c.GetUser(ctx, s.AccessToken)
		switch {
		case err == nil:
			s.User = *u
			return session.NewKeeper(c, st, g.server, s), "", nil
		case session.IsNotServed(err):
			return nil, "", errNoAuth
		case !session.IsRefused(err):
			return nil, "", fmt.Errorf("checking your session on %s: %w", g.server, err)
		}
	}
	k = session.NewKeeper(c, st, g.server, s)
	err = k.Refresh(ctx)
	switch {
	case err == nil:
		return k, "", nil
	case session.SessionEnded(err) && s.User.IsAnonymous:
		// An anonymous user whose session ended cannot come back; a new one
		// is the only way in, so take it rather than fail.
		if s, err = signInAnonymously(ctx, g, c, st); err != nil {
			return nil, "", err
		}
		return session.NewKeeper(c, st, g.server, s), "your previous anonymous session had ended: signed in as a new user", nil
	case session.SessionEnded(err):
		email := s.User.Email
		if email == "" {
			email = "you@example.com"
		}
		return nil, "", fmt.Errorf("your session on %s has ended: sign in again with watchium-tui login --server %s --email %s", g.server, g.server, email)
	case session.IsNotServed(err):
		return nil, "", errNoAuth
	}
	return nil, "", fmt.Errorf("refreshing your session on %s: %w", g.server, err)
}

// displayName settles the name to show: an explicit --name (or
// WATCHIUM_NAME) is stored in the user's metadata; otherwise the metadata's
// name, else the default.
func displayName(ctx context.Context, g globalFlags, k *session.Keeper) string {
	name, _ := profile(ctx, g, k, "")
	return name
}

// profile settles the name and avatar to show. What the person chose for
// this run (--name, --avatar-url) is stored in their user metadata, so it
// follows them; what they did not choose comes from that metadata.
func profile(ctx context.Context, g globalFlags, k *session.Keeper, avatarURL string) (string, string) {
	if k == nil {
		return g.name, avatarURL
	}
	s := k.Session()
	name, avatar := g.name, avatarURL
	storedAvatar, _ := s.User.UserMetadata["avatar_url"].(string)
	patch := map[string]any{}
	if stored := s.User.Name(); !g.nameSet && stored != "" {
		name = stored
	} else if stored != g.name {
		patch["name"] = g.name
	}
	if avatar == "" {
		avatar = storedAvatar
	} else if avatar != storedAvatar {
		patch["avatar_url"] = avatar
	}
	if len(patch) == 0 {
		return name, avatar
	}
	c, err := session.NewClient(g.server, g.key)
	if err != nil {
		return name, avatar
	}
	if _, err := c.UpdateUser(ctx, s.AccessToken, patch); err == nil {
		// A fresh token carries the new metadata.
		_ = k.Refresh(ctx)
	}
	return name, avatar
}

// deviceKey is this device's signing key for g.server, kept beside the
// session, so every command and terminal of this user on this device puts
// the same public key on the room_members row. A key file that cannot be
// read or written costs only this run a key of its own (followers re-read
// the key when a host's events stop verifying).
func deviceKey(g globalFlags, log *slog.Logger) ed25519.PrivateKey {
	key, err := sessionStore().SigningKey(g.server)
	if err != nil {
		log.Warn("using a signing key for this run only", "err", err)
		return room.NewSigningKey()
	}
	return key
}

// restClient is the REST client for g.server, sending the session's token.
func restClient(g globalFlags, k *session.Keeper) (*rest.Client, error) {
	rc, err := rest.New(g.server, g.key)
	if err != nil || k == nil {
		return rc, err
	}
	return rc.WithAccessToken(k.AccessToken), nil
}

func newLoginCmd() *cobra.Command {
	var g globalFlags
	var email string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a server (anonymously, or with an emailed code)",
		Long: `Signs you in to the server (the embedded one or a Supabase project) and keeps
the session in $XDG_CONFIG_HOME/watchium/sessions/ (default ~/.config/watchium),
one file per server, readable only by you. join, say, tail and members use it and
refresh it by themselves; they also sign in anonymously on first use, so login
is only needed to choose how.

By default the sign-in is anonymous: the server makes you a user id and nothing
else is asked. With --email, the server mails you a 6-digit code that you type
here (Supabase projects with email sign-in; the embedded server sends no mail,
so there --email does not work).`,
		Example: `  watchium-tui login
  watchium-tui login --server https://xyz.supabase.co --key ANON_KEY --email ana@example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.nameSet = nameChosen(cmd, g)
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			c, err := session.NewClient(g.server, g.key)
			if err != nil {
				return err
			}
			st := sessionStore()
			out := cmd.OutOrStdout()
			if email == "" {
				if k, _, err := openSession(ctx, g); err == nil {
					name := displayName(ctx, g, k)
					fmt.Fprintf(out, "signed in to %s as %s (%s)\n", g.server, name, describeUser(k.Session().User))
					return nil
				} else if errors.Is(err, errNoAuth) {
					return fmt.Errorf("%s has no sign-in (no /auth/v1): you take part there without an account", g.server)
				} else {
					return unreachable(g.server, err)
				}
			}
			if err := c.SendOTP(ctx, email); err != nil {
				if session.HasCode(err, "email_provider_disabled") || session.IsNotServed(err) {
					return fmt.Errorf("%s does not sign in by email (%v): use watchium-tui login without --email", g.server, err)
				}
				return unreachable(g.server, fmt.Errorf("asking %s to mail a code: %w", g.server, err))
			}
			fmt.Fprintf(out, "a 6-digit code was sent to %s; type it here: ", email)
			code, err := readCode(cmd.InOrStdin())
			if err != nil {
				return err
			}
			s, err := c.VerifyOTP(ctx, email, code)
			if err != nil {
				return fmt.Errorf("the code was not accepted: %w (run login again for a new one)", err)
			}
			if err := st.Save(g.server, s); err != nil {
				return err
			}
			k := session.NewKeeper(c, st, g.server, s)
			name := displayName(ctx, g, k)
			fmt.Fprintf(out, "signed in to %s as %s (%s)\n", g.server, name, describeUser(s.User))
			return nil
		},
	}
	addServerFlags(cmd, &g)
	cmd.Flags().StringVar(&email, "email", "", "sign in with a code mailed to this address (Supabase projects; not the embedded server)")
	cmd.Flags().StringVar(&g.name, "name", defaultName(), "your display name, kept in your user's metadata (env WATCHIUM_NAME)")
	return cmd
}

func readCode(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	code := strings.TrimSpace(line)
	if code == "" {
		if err != nil {
			return "", fmt.Errorf("no code typed: %w", err)
		}
		return "", errors.New("no code typed")
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("%q is not a code: it is the 6 digits from the email", code)
		}
	}
	return code, nil
}

func describeUser(u session.User) string {
	if u.IsAnonymous {
		return "anonymous user " + u.ID
	}
	if u.Email != "" {
		return u.Email + ", user " + u.ID
	}
	return "user " + u.ID
}

// whoami is what whoami --json prints.
type whoami struct {
	ID          string `json:"id"`
	IsAnonymous bool   `json:"is_anonymous"`
	Username    string `json:"username"`
	Server      string `json:"server"`
}

func newWhoamiCmd() *cobra.Command {
	var g globalFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who you are signed in as on a server",
		Long: `Shows the user you are signed in as on the server (asking the server, so a
session it no longer knows is reported). Tokens are never printed.`,
		Example: `  watchium-tui whoami
  watchium-tui whoami --json | jq -r .id`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			s, err := sessionStore().Load(g.server)
			if err != nil {
				return err
			}
			if s == nil {
				return fmt.Errorf("not signed in to %s: run watchium-tui login (join, say, tail and members also sign you in)", g.server)
			}
			// Unlike join, whoami never signs in anew: it reports the
			// saved user, refreshing its token if the server asks for it.
			c, err := session.NewClient(g.server, g.key)
			if err != nil {
				return err
			}
			k := session.NewKeeper(c, sessionStore(), g.server, s)
			u, err := c.GetUser(ctx, k.AccessToken())
			if session.IsRefused(err) {
				if err = k.Refresh(ctx); err == nil {
					u, err = c.GetUser(ctx, k.AccessToken())
				}
			}
			if err != nil {
				if session.SessionEnded(err) || session.IsRefused(err) {
					return fmt.Errorf("your session on %s has ended (%v): run watchium-tui login", g.server, err)
				}
				return unreachable(g.server, fmt.Errorf("asking %s who you are: %w", g.server, err))
			}
			w := whoami{ID: u.ID, IsAnonymous: u.IsAnonymous, Username: u.Name(), Server: g.server}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(w)
			}
			name := w.Username
			if name == "" {
				name = "(no name)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s on %s: %s\n", name, g.server, describeUser(*u))
			return nil
		},
	}
	addServerFlags(cmd, &g)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id","is_anonymous","username","server"}`)
	return cmd
}

func newLogoutCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Sign out of a server and forget the session",
		Long: `Ends your session on the server and deletes the session file. An anonymous
user cannot sign back in: the next join starts as a new user.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			st := sessionStore()
			s, err := st.Load(g.server)
			if err != nil {
				// A damaged file is forgotten all the same.
				_ = st.Delete(g.server)
				return err
			}
			if s == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "not signed in to %s\n", g.server)
				return nil
			}
			c, err := session.NewClient(g.server, g.key)
			if err != nil {
				return err
			}
			if err := c.Logout(ctx, s.AccessToken); err != nil && !session.SessionEnded(err) && !session.HasCode(err, "bad_jwt") {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the server did not confirm the sign-out (%v); the session is forgotten here anyway\n", err)
			}
			if err := st.Delete(g.server); err != nil {
				return fmt.Errorf("deleting your session file: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed out of %s\n", g.server)
			return nil
		},
	}
	addServerFlags(cmd, &g)
	return cmd
}

// nameFlagSet reports whether the person chose a name for this run.
func nameFlagSet(cmd *cobra.Command) bool {
	return cmd.Flags().Changed("name") || os.Getenv("WATCHIUM_NAME") != ""
}

// nameChosen: a flag, the environment or the config file chose the name.
func nameChosen(cmd *cobra.Command, g globalFlags) bool {
	return nameFlagSet(cmd) || g.nameSet
}
