package main

import (
	"io"
	"os"
	"os/user"

	"github.com/watchium/watchium-tui/internal/config"

	"github.com/spf13/cobra"
)

const defaultServer = "http://127.0.0.1:4000"

// globalFlags are shared by every command that talks to a server.
type globalFlags struct {
	server string
	key    string
	name   string
	debug  bool
	// invite is a private room's invite code (--invite).
	invite string
	// nameSet: the person chose name for this run (--name or
	// WATCHIUM_NAME), so it replaces the name kept in their user metadata.
	nameSet bool
	// file is the config file's content (config.toml), applied under the
	// flags and the environment by applyConfigFile.
	file config.File
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func defaultName() string {
	if n := os.Getenv("WATCHIUM_NAME"); n != "" {
		return n
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "guest"
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "watchium-tui",
		Short: "Watch videos in sync with friends, from the terminal",
		Long: `watchium-tui keeps everyone's mpv on the host's timeline (within a frame or
two) and gives the room a terminal UI: who is here, who is in sync, and chat.

It talks the Supabase Realtime protocol, so it works with the server built into
this binary (watchium-tui serve, the default at ` + defaultServer + `) or with
a Supabase project (--server https://xyz.supabase.co --key ANON_KEY).

Everyone is a signed-in user of that server: commands sign you in anonymously
on first use (see watchium-tui login --help for email sign-in, where sessions
are kept, whoami and logout).`,
		Example: `  # on one machine, in three terminals
  watchium-tui serve
  watchium-tui join movie --media movie.mkv --host
  watchium-tui join movie --media movie.mkv --name bob

  # chat from a script
  watchium-tui say movie "popcorn break in 5"`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the error once
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(), newJoinCmd(), newSayCmd(), newTailCmd(), newMembersCmd(), newBenchCmd(), newDemoCmd(),
		newLoginCmd(), newWhoamiCmd(), newLogoutCmd(), newInviteCmd(), newConfigCmd())
	return root
}

// applyConfigFile fills in what neither a flag nor a WATCHIUM_* variable
// set from the config file: flags > environment > file > defaults.
func applyConfigFile(cmd *cobra.Command, g *globalFlags) error {
	path, err := config.Path()
	if err != nil {
		return nil // no config folder: defaults and flags only
	}
	f, _, err := config.Load(path)
	if err != nil {
		return err
	}
	g.file = f
	unset := func(flag, env string) bool {
		fl := cmd.Flags().Lookup(flag)
		return fl != nil && !fl.Changed && os.Getenv(env) == ""
	}
	if f.Server != "" && unset("server", "WATCHIUM_SERVER") {
		g.server = f.Server
	}
	if f.Key != "" && unset("key", "WATCHIUM_KEY") {
		g.key = f.Key
	}
	if f.Name != "" && unset("name", "WATCHIUM_NAME") {
		g.name = f.Name
		g.nameSet = true
	}
	return nil
}

func addServerFlags(cmd *cobra.Command, g *globalFlags) {
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error { return applyConfigFile(cmd, g) }
	cmd.Flags().StringVar(&g.server, "server", envOr("WATCHIUM_SERVER", defaultServer), "realtime server or Supabase project URL (env WATCHIUM_SERVER)")
	cmd.Flags().StringVar(&g.key, "key", os.Getenv("WATCHIUM_KEY"), "API (anon) key (env WATCHIUM_KEY)")
	cmd.Flags().BoolVar(&g.debug, "debug", false, "log every protocol frame to stderr")
}
