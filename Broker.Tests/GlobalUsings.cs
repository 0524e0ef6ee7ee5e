global using NUnit.Framework;
global using TopicBroker.Tests.Infrastructure;
