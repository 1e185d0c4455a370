package store

import "io/fs"

// SetMigrationsForTest makes the store read its migrations from fsys until
// the returned function is called.
func SetMigrationsForTest(fsys fs.FS) (restore func()) {
	old := migrationSource
	migrationSource = fsys
	return func() { migrationSource = old }
}
