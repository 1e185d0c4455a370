package templateadmin_test

import (
	"os"
	"testing"

	"github.com/protectnow/protect/internal/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
