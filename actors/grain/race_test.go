//go:build race

package grain_test

// raceDetector: the tests run under -race.
const raceDetector = true
