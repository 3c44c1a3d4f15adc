namespace Bulwark.Firmware.Tests;
public class SmokeTests { [Fact] public void Builds() => Assert.True(true); }
