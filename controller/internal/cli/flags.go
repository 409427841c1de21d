package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/internal/suggest"
)

// ParseFlags parses args with fs. -h prints the command's usage and returns
// flag.ErrHelp; any other mistake comes back as a UsageError naming the flag,
// with a "did you mean" when one of fs's flags is close, and prints nothing
// (the flag package would print the error and then every flag).
func ParseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	}
	return &UsageError{Msg: strings.TrimPrefix(fs.Name(), "lookout-controller ") + ": " + flagMistake(fs, err)}
}

// flagMistake rewords the flag package's errors for people.
func flagMistake(fs *flag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return err.Error()
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, dashes(f.Name)) })
	name = dashes(strings.TrimLeft(name, "-"))
	return fmt.Sprintf("unknown flag %s%s; -h lists the flags", name, suggest.Hint(name, names))
}

func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// UnknownCommand is the error for a command line that names no command, with
// the closest command name when one is near.
func UnknownCommand(args []string, extra ...string) error {
	names := extra
	for _, c := range Commands() {
		names = append(names, c.Name)
	}
	typed := strings.Join(args[:min(len(args), 2)], " ")
	hint := suggest.Hint(typed, names)
	if hint == "" {
		hint = suggest.Hint(args[0], names)
	}
	return &UsageError{Msg: fmt.Sprintf("unknown command %q%s", strings.Join(args, " "), hint)}
}

// passwordHint adds, to a refused archive given without any password option,
// how to give one: the archive may simply need its password.
func passwordHint(err error, pwFile string, pwStdin bool) error {
	if pwFile != "" || pwStdin || status.Code(err) != codes.InvalidArgument {
		return err
	}
	return status.Error(codes.InvalidArgument, status.Convert(err).Message()+
		"\nno password was given: if the archive has one, pass --password-file FILE or --password-stdin")
}
