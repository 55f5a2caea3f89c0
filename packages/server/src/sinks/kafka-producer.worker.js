// The Kafka producer thread's entry file. From source Node strips the types of the imported file
// itself; the build bundles both into dist/kafka-producer.worker.js, beside the code that starts it.
import './kafka-producer-thread.ts';
