using System.Text.Json.Nodes;

namespace RobotBridge.Simulation;

/// <summary>
/// A simulated restaurant: guests arrive at tables and order, the kitchen cooks, and robots carry
/// ready orders from their docks to the tables. It knows nothing about the broker; each
/// <see cref="Step"/> reports the entities that changed, and the caller publishes them.
/// </summary>
/// <remarks>
/// Topics and data, as the web samples expect them:
/// <c>robots</c> <c>{"x","y","battery","state","table"?}</c> with state idle, delivering, returning, charging or offline;
/// <c>tables</c> <c>{"state","seats","x","y","order"?}</c> with state free, seated or waiting;
/// <c>orders</c> <c>{"table","items","status","createdAt"}</c> with status new, cooking, ready or served.
/// </remarks>
internal sealed class Restaurant
{
    public const string RobotsTopic = "robots";
    public const string TablesTopic = "tables";
    public const string OrdersTopic = "orders";

    private const double RobotSpeed = 1.4;            // metres per second
    private const double BatteryPerMetre = 0.35;      // percent
    private const double ChargePerSecond = 1.2;       // percent, while docked
    private const double DispatchableBattery = 30;    // below this a robot stays docked and charges...
    private const double ChargedBattery = 80;         // ...until it has this much again
    private const int KitchenCapacity = 4;            // orders cooked at once
    private const double GuestArrivalsPerSecond = 0.03; // per free table

    private static readonly string[] s_menu =
        ["ramen", "gyoza", "karaage", "edamame", "miso soup", "tempura udon", "salmon don", "takoyaki", "matcha ice cream", "green tea"];

    private readonly Random _random;
    private readonly List<Robot> _robots = [];
    private readonly List<Table> _tables = [];
    private readonly List<Order> _orders = [];
    private int _nextOrderNumber = 1;

    public Restaurant(int robotCount, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(robotCount, 1);
        _random = random;
        for (var i = 0; i < robotCount; i++)
        {
            var dock = FloorPlan.Dock(i, robotCount);
            _robots.Add(new Robot($"robot-{i + 1}", dock) { Battery = Between(55, 100) });
        }

        foreach (var layout in FloorPlan.Tables)
        {
            _tables.Add(new Table(layout));
        }
    }

    /// <summary>Every robot and table as they are now, to publish once at start.</summary>
    public void ReportAll(List<EntityChange> changes)
    {
        foreach (var table in _tables)
        {
            changes.Add(table.ToChange());
        }

        foreach (var robot in _robots)
        {
            changes.Add(robot.ToChange());
        }
    }

    /// <summary>Advances the restaurant by <paramref name="elapsed"/> and reports what changed.</summary>
    public void Step(TimeSpan elapsed, DateTimeOffset now, List<EntityChange> changes)
    {
        var seconds = elapsed.TotalSeconds;
        StepTables(seconds, now, changes);
        StepKitchen(seconds, changes);
        DispatchReadyOrders();
        StepRobots(seconds, changes);
    }

    /// <summary>
    /// Clears the board when the simulation stops: open orders deleted, tables free, robots
    /// offline, so the dashboards do not show a frozen restaurant as if it were live.
    /// </summary>
    public void ReportClosing(List<EntityChange> changes)
    {
        foreach (var order in _orders)
        {
            changes.Add(new EntityChange(OrdersTopic, order.Id, null));
        }

        _orders.Clear();
        foreach (var table in _tables.Where(t => t.State != TableState.Free))
        {
            table.Reset();
            changes.Add(table.ToChange());
        }

        foreach (var robot in _robots)
        {
            robot.State = RobotState.Offline;
            robot.Delivery = null;
            changes.Add(robot.ToChange());
        }
    }

    private void StepTables(double seconds, DateTimeOffset now, List<EntityChange> changes)
    {
        foreach (var table in _tables)
        {
            table.Timer -= seconds;
            switch (table.State)
            {
                case TableState.Free:
                    if (_random.NextDouble() < GuestArrivalsPerSecond * seconds)
                    {
                        table.State = TableState.Ordering;
                        table.Timer = Between(4, 10);
                        changes.Add(table.ToChange());
                    }

                    break;

                case TableState.Ordering:
                    if (table.Timer <= 0)
                    {
                        var order = new Order($"order-{_nextOrderNumber++}", table, PickItems(table.Layout.Seats), now.ToUnixTimeMilliseconds())
                        {
                            Timer = Between(2, 6),
                        };
                        _orders.Add(order);
                        table.State = TableState.WaitingForFood;
                        table.Order = order;
                        changes.Add(order.ToChange());
                        changes.Add(table.ToChange());
                    }

                    break;

                case TableState.Eating:
                    if (table.Timer <= 0)
                    {
                        // The guests leave: their order, served long ago, leaves the topic too.
                        if (table.Order is { } finished)
                        {
                            _orders.Remove(finished);
                            changes.Add(new EntityChange(OrdersTopic, finished.Id, null));
                        }

                        table.Reset();
                        changes.Add(table.ToChange());
                    }

                    break;
            }
        }
    }

    private void StepKitchen(double seconds, List<EntityChange> changes)
    {
        var cooking = _orders.Count(o => o.Status == OrderStatus.Cooking);
        foreach (var order in _orders)
        {
            order.Timer -= seconds;
            if (order.Timer > 0)
            {
                continue;
            }

            if (order.Status == OrderStatus.New && cooking < KitchenCapacity)
            {
                order.Status = OrderStatus.Cooking;
                order.Timer = Between(8, 20);
                cooking++;
                changes.Add(order.ToChange());
            }
            else if (order.Status == OrderStatus.Cooking)
            {
                order.Status = OrderStatus.Ready;
                cooking--;
                changes.Add(order.ToChange());
            }
        }
    }

    private void DispatchReadyOrders()
    {
        foreach (var order in _orders.Where(o => o.Status == OrderStatus.Ready && o.Robot is null))
        {
            var robot = _robots
                .Where(r => r.State == RobotState.Idle && r.Battery >= DispatchableBattery)
                .MaxBy(r => r.Battery);
            if (robot is null)
            {
                return; // every robot is busy; ready orders wait at the pass, oldest first
            }

            order.Robot = robot;
            robot.Delivery = order;
            robot.State = RobotState.Delivering;
            robot.SetRoute(FloorPlan.Route(robot.Position, order.Table.Layout.ServingSpot));
        }
    }

    private void StepRobots(double seconds, List<EntityChange> changes)
    {
        foreach (var robot in _robots)
        {
            var travelled = robot.Move(RobotSpeed * seconds);
            robot.Battery = Math.Max(0, robot.Battery - (travelled * BatteryPerMetre));

            if (robot.HasArrived)
            {
                OnArrived(robot, changes);
            }

            if (robot.Position == robot.Dock && robot.State is RobotState.Idle or RobotState.Charging)
            {
                robot.Battery = Math.Min(100, robot.Battery + (ChargePerSecond * seconds));
                if (robot.State == RobotState.Charging && robot.Battery >= ChargedBattery)
                {
                    robot.State = RobotState.Idle;
                }
            }

            if (robot.ToChangeIfMoved() is { } change)
            {
                changes.Add(change);
            }
        }
    }

    private static void OnArrived(Robot robot, List<EntityChange> changes)
    {
        if (robot.State == RobotState.Delivering && robot.Delivery is { } order)
        {
            order.Status = OrderStatus.Served;
            order.Robot = null;
            order.Table.State = TableState.Eating;
            order.Table.Timer = 15 + (order.Items.Length * 5);
            changes.Add(order.ToChange());
            changes.Add(order.Table.ToChange());

            robot.Delivery = null;
            robot.State = RobotState.Returning;
            robot.SetRoute(FloorPlan.Route(robot.Position, robot.Dock));
        }
        else if (robot.State == RobotState.Returning)
        {
            robot.State = robot.Battery < DispatchableBattery ? RobotState.Charging : RobotState.Idle;
        }
    }

    private string[] PickItems(int seats)
    {
        var count = _random.Next(1, Math.Min(seats, 4) + 1);
        return [.. Enumerable.Range(0, count).Select(_ => s_menu[_random.Next(s_menu.Length)])];
    }

    private double Between(double min, double max) => min + (_random.NextDouble() * (max - min));

    private enum TableState
    {
        Free,
        Ordering,
        WaitingForFood,
        Eating,
    }

    private enum RobotState
    {
        Idle,
        Delivering,
        Returning,
        Charging,
        Offline,
    }

    private enum OrderStatus
    {
        New,
        Cooking,
        Ready,
        Served,
    }

    private sealed class Table(TableLayout layout)
    {
        public TableLayout Layout { get; } = layout;

        public TableState State { get; set; }

        public double Timer { get; set; }

        public Order? Order { get; set; }

        public void Reset()
        {
            State = TableState.Free;
            Order = null;
            Timer = 0;
        }

        public EntityChange ToChange()
        {
            // Guests who are ordering or eating are "seated"; guests waiting for food are "waiting".
            var data = new JsonObject
            {
                ["state"] = State switch
                {
                    TableState.Free => "free",
                    TableState.WaitingForFood => "waiting",
                    _ => "seated",
                },
                ["seats"] = Layout.Seats,
                ["x"] = Layout.Position.X,
                ["y"] = Layout.Position.Y,
            };
            if (Order is not null)
            {
                data["order"] = Order.Id;
            }

            return new EntityChange(TablesTopic, Layout.Id, data);
        }
    }

    private sealed class Order(string id, Table table, string[] items, long createdAt)
    {
        public string Id { get; } = id;

        public Table Table { get; } = table;

        public string[] Items { get; } = items;

        public OrderStatus Status { get; set; }

        public double Timer { get; set; }

        public Robot? Robot { get; set; }

        public EntityChange ToChange() => new(OrdersTopic, Id, new JsonObject
        {
            ["table"] = Table.Layout.Id,
            ["items"] = new JsonArray([.. Items.Select(item => (JsonNode?)item)]),
            ["status"] = Status.ToString().ToLowerInvariant(),
            ["createdAt"] = createdAt,
        });
    }

    private sealed class Robot(string id, Point dock)
    {
        private readonly Queue<Point> _route = new();
        private (double X, double Y, int Battery, string State, string? Table) _published;

        public string Id { get; } = id;

        public Point Dock { get; } = dock;

        public Point Position { get; private set; } = dock;

        public double Battery { get; set; }

        public RobotState State { get; set; } = RobotState.Idle;

        public Order? Delivery { get; set; }

        /// <summary>True once, on the step the robot reaches the end of its route.</summary>
        public bool HasArrived { get; private set; }

        public void SetRoute(IEnumerable<Point> waypoints)
        {
            _route.Clear();
            foreach (var waypoint in waypoints)
            {
                _route.Enqueue(waypoint);
            }
        }

        /// <summary>Drives up to <paramref name="distance"/> metres along the route; returns the metres driven.</summary>
        public double Move(double distance)
        {
            HasArrived = false;
            var driven = 0.0;
            while (distance > 0 && _route.TryPeek(out var next))
            {
                var toNext = Position.DistanceTo(next);
                if (toNext <= distance)
                {
                    Position = next;
                    _route.Dequeue();
                    distance -= toNext;
                    driven += toNext;
                    HasArrived = _route.Count == 0;
                }
                else
                {
                    var fraction = distance / toNext;
                    Position = new Point(Position.X + ((next.X - Position.X) * fraction), Position.Y + ((next.Y - Position.Y) * fraction));
                    driven += distance;
                    distance = 0;
                }
            }

            return driven;
        }

        /// <summary>The robot's data if it differs, as published (centimetres, whole percent), from what was published last.</summary>
        public EntityChange? ToChangeIfMoved()
        {
            var view = Snapshot();
            return view == _published ? null : ToChange();
        }

        public EntityChange ToChange()
        {
            _published = Snapshot();
            var data = new JsonObject
            {
                ["x"] = _published.X,
                ["y"] = _published.Y,
                ["battery"] = _published.Battery,
                ["state"] = _published.State,
            };
            if (_published.Table is not null)
            {
                data["table"] = _published.Table;
            }

            return new EntityChange(RobotsTopic, Id, data);
        }

        private (double X, double Y, int Battery, string State, string? Table) Snapshot() =>
            (Math.Round(Position.X, 2), Math.Round(Position.Y, 2), (int)Math.Round(Battery), State.ToString().ToLowerInvariant(), Delivery?.Table.Layout.Id);
    }
}
