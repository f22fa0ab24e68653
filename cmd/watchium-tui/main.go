package main

import (
	_ "charm.land/bubbles/v2/textinput"
	_ "charm.land/bubbletea/v2"
	_ "charm.land/lipgloss/v2"
	_ "github.com/gorilla/websocket"
	_ "github.com/spf13/cobra"
)

func main() {}
