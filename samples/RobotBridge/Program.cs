Console.WriteLine("RobotBridge: not written yet");
