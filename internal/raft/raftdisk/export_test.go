package raftdisk

// SetNaiveSalvage turns the repair mark off (see testNaiveSalvage) until
// the returned function restores it.
func SetNaiveSalvage() (restore func()) {
	testNaiveSalvage = true
	return func() { testNaiveSalvage = false }
}
