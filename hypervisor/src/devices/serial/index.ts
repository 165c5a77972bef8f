export { SerialLog, type SerialLogOptions, type V86SerialLike } from './serial-log.ts';
export { LineChannel, type LineChannelOptions } from './line-channel.ts';
