Console.WriteLine("TopicBroker.Bench: not written yet");
