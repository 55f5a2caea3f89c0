// The process sampler lives in @inlet/testkit (the chaos drills measure servers with it too).
export { cpuSeconds, cpuStallMicros, mainThreadCpuSeconds, mainThreadWaitSeconds, memory, ProcessSampler, threadCpuSeconds, type Memory } from '@inlet/testkit/proc-stats';
