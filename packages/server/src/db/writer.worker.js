// The writer thread's entry file. From source Node strips the types of the imported file itself;
// the build bundles both into dist/writer.worker.js, beside the code that starts it.
import './writer-thread.ts';
