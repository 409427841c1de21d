package fileperm

import (
	"fmt"
	"io/fs"
	"os"
)

// CheckPrivate refuses a secret file (what names it for the operator, e.g. "admin token file")
// that is not a regular file or that group or others may access.
func CheckPrivate(path, what string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", what, err)
	}
	return checkInfo(path, what, info)
}

func checkInfo(path, what string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s has mode %04o; it must be readable by its owner only: chmod 600 %s", what, path, perm, path)
	}
	return nil
}

// TightenDir makes dir accessible to its owner only, creating it (0700) when missing. It returns
// the mode the directory had when it had to change it, so the caller can say so; zero when it
// was already private or is new.
func TightenDir(dir string) (was fs.FileMode, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("creating data dir: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("checking data dir: %w", err)
	}
	if !info.IsDir() {
		return 0, fmt.Errorf("data dir %s is not a directory", dir)
	}
	perm := info.Mode().Perm()
	if perm&0o077 == 0 {
		return 0, nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return 0, fmt.Errorf("data dir %s has mode %04o and could not be made private (chmod 700 %s): %w", dir, perm, dir, err)
	}
	return perm, nil
}
