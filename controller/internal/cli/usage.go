package cli

import (
	"flag"
	"fmt"
	"strings"
)

// positionals names the words a command takes besides its flags, for its -h text. Commands not
// listed take flags only.
var positionals = map[string]string{
	"vault show":                "NAME",
	"vault add-certificate":     "NAME",
	"vault add-credentials":     "NAME",
	"vault delete":              "NAME",
	"vault replace-certificate": "NAME",
	"vault replace-credentials": "NAME",
	"vault replace-secret":      "NAME",
	"vault replace-file":        "NAME",
	"vault add-secret":          "NAME",
	"vault add-file":            "NAME",
	"monitor show":              "NAME",
	"monitor delete":            "NAME",
	"monitor pause":             "NAME",
	"monitor resume":            "NAME",
	"monitor mute":              "NAME",
	"monitor unmute":            "NAME",
	"channel show":              "NAME",
	"channel delete":            "NAME",
	"channel test":              "NAME",
	"run":                       "MONITOR",
	"checkpoint revoke":         "NAME",
	"token revoke":              "NAME",
	"results show":              "RUN_ID",
	"monitor status":            "NAME",
}

// setUsage makes a command's -h say what it does and what it takes, then list its flags.
func setUsage(fs *flag.FlagSet, name string) {
	fs.Usage = func() {
		w := fs.Output()
		summary := ""
		for _, c := range Commands() {
			if c.Name == name {
				summary = c.Summary
			}
		}
		synopsis := strings.TrimSpace("lookout-controller " + name + " " + positionals[name])
		fmt.Fprintf(w, "Usage: %s [flags]\n", synopsis)
		if summary != "" {
			fmt.Fprintf(w, "\n%s\n", summary)
		}
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
}
