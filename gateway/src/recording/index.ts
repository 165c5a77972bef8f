// The gateway's recorder and recordings folder, for tools that write or read recordings outside
// a running gateway (the bench builds an hour-long one).
export { SessionRecorder, DEFAULT_RECORDER_OPTIONS, type RecorderOptions } from './recorder.ts';
export { RecordingStore, type RecordingStoreOptions } from './store.ts';
