using Bulwark.Cli;

return await BulwarkCli.RunConsoleAsync(args);
