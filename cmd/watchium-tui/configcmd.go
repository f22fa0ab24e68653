package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/internal/config"
)

func newConfigCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show where the config file is and the settings in effect",
		Long: `Prints where the config file is ($XDG_CONFIG_HOME/watchium/config.toml,
by default ~/.config/watchium/config.toml), whether it exists, and each
setting in effect with where it came from. Settings come from, strongest
first: command-line flags, the WATCHIUM_SERVER / WATCHIUM_KEY / WATCHIUM_NAME
environment variables, the config file, the defaults.

The file is TOML:

` + config.Example,
		Example: `  watchium-tui config
  watchium-tui config --server http://192.168.1.20:4000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfig(cmd, g)
		},
	}
	addServerFlags(cmd, &g)
	cmd.Flags().StringVar(&g.name, "name", defaultName(), "your name in the room (env WATCHIUM_NAME)")
	return cmd
}

func runConfig(cmd *cobra.Command, g globalFlags) error {
	out := cmd.OutOrStdout()
	path, err := config.Path()
	if err != nil {
		return err
	}
	_, found, _ := config.Load(path) // a bad file already failed in PreRunE
	state := "not there: defaults in use; create it to change them"
	if found {
		state = "found"
	}
	fmt.Fprintf(out, "config file: %s (%s)\n", path, state)
	source := func(flag, env string, inFile bool) string {
		switch {
		case cmd.Flags().Changed(flag):
			return "flag --" + flag
		case env != "" && os.Getenv(env) != "":
			return "env " + env
		case inFile:
			return "config file"
		}
		return "default"
	}
	key := "(none)"
	if g.key != "" {
		key = g.key[:min(4, len(g.key))] + "… (set)"
	}
	fmt.Fprintf(out, "server     = %s  [%s]\n", g.server, source("server", "WATCHIUM_SERVER", g.file.Server != ""))
	fmt.Fprintf(out, "key        = %s  [%s]\n", key, source("key", "WATCHIUM_KEY", g.file.Key != ""))
	fmt.Fprintf(out, "name       = %s  [%s]\n", g.name, source("name", "WATCHIUM_NAME", g.file.Name != ""))
	dirs := "(none: only the --media file's folder)"
	if len(g.file.MediaDirs) > 0 {
		dirs = strings.Join(g.file.MediaDirs, ", ") + "  [config file; join --media-dir overrides]"
	}
	fmt.Fprintf(out, "media_dirs = %s\n", dirs)
	args := "(none)"
	if len(g.file.MPVArgs) > 0 {
		args = strings.Join(g.file.MPVArgs, " ") + "  [config file; join --mpv-arg overrides]"
	}
	fmt.Fprintf(out, "mpv_args   = %s\n", args)
	return nil
}
