package indexes

import (
	"errors"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

func openBTree(fs storage.FS, dir string, sync bool) (engine.Engine, error) {
	return nil, errors.New("btree: not built yet")
}
