package localstore

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
)

// TestStoreInAnOddPath: the store's state in a directory whose path has
// spaces and letters beyond ASCII (C:\ProgramData\backupwatch on a
// localized Windows, a user's profile) and a host name beyond ASCII.
func TestStoreInAnOddPath(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "Backup Wächter ø", "records 日本"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"db ø", "web"} {
		err := st.Update(ctx, key, func(map[string]any) (map[string]any, bool, error) {
			return map[string]any{"status": "success", "host": key}, true, nil
		})
		if err != nil {
			t.Fatalf("Update(%s): %v", key, err)
		}
	}
	keys, err := st.List(ctx)
	if err != nil || !reflect.DeepEqual(keys, []string{"db ø", "web"}) {
		t.Errorf("List = %q, %v", keys, err)
	}
	doc, err := st.Get(ctx, "db ø")
	if err != nil || doc["host"] != "db ø" {
		t.Errorf("Get(db ø) = %v, %v", doc, err)
	}
}
