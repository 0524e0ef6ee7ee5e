global using NUnit.Framework;
global using TopicBroker.Testing;
global using TopicBroker.Tests.Infrastructure;
