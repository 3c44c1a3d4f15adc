using Bulwark.DeviceSim.Cli;

return await SimCli.RunAsync(args, SimConsole.System(), handleTermination: true);
