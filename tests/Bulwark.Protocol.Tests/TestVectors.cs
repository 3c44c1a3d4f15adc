namespace Bulwark.Protocol.Tests;

// Fixed vectors generated once with OpenSSL 3.0 (commands in the comments), so the tests check our bytes against
// an independent implementation rather than against themselves. Throw-away keys: never use them anywhere real.
internal static class TestVectors
{
    // openssl genrsa -traditional 1024
    public const string DevicePrivateKeyPem = """
-----BEGIN RSA PRIVATE KEY-----
MIICXwIBAAKBgQDgeq56BOrqJ6NKXDa5mp3Go/fBbDvOy9MJX013U5YWdIJ6ifnb
10NROUMHk/3aBEaYdFCUYnWHntudkw5ptizbMj5wincXqD1mpBzVaqmLYeIoIMbC
kn3w57bwBeNqREAjXQ6/DlqwRhCWot6gydDE2HWMse8nIUKTmR7v2fhhPQIDAQAB
AoGBAI6oSJOQ5n2yfQp3ueuQQC6J65zHnOaaD97H6yInQ523o2geoWQ91DEdM+Tv
/wZ7ayXd3Yu/WrO6mBT27NTvimb+I1NnTuB5c9XQFuM7uB0zRQMEoPXAXGcdBRaP
2WrtSInrx6uNqx19RGbPoEv7dy+abgTFA8UFpOdp3x6UB4yBAkEA9meScC/JWilI
ZmdhnAIQYU16QmYjnoZCfUIbcEDe2dQRWeyy2Uk5T3pxRoOLf9PxCevpS7XlDfks
aTWODmu74QJBAOk4iKkynJFVNYTKPPtf8l+GrnxL0YZ6ILjAJ0srPxnt8meIv9Cw
pgaDVjt1X+XiCK0VgMmd+3kOeacnDFNdMN0CQQC/o8Ad5tyodfEsS/17k5Nfyh1r
ZPsRAQTXXMHwZVOtgSVZliFno26iZO2S1R569cDDYarZyodyfbhPv2pTxvChAkEA
lFKwF2tox8U5VEqKnhRXQQmWztYpWy0wwk7yrovChesez1nZJBA0hs/gd9AePUWT
3wBd99vRoxvhorziyeHqwQJBAJzNb6dGv6qIjyPo1Nlkx5cUUY1MI7OzccgDOzUn
J7Bb5X41YMJSDDPhhGwu+cmvsibW925buCQgPTlquOu2yPs=
-----END RSA PRIVATE KEY-----
""";

    // openssl genrsa -traditional 2048
    public const string ServerPrivateKeyPem = """
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAzRZ8sNSEqf/rQjRRw/yCPjH+AhfhCjsvIrlrkxGWKaf6rOvi
2NFr+PY+15aGEZg25IJvYtS5hIAQeZMm99OMthPuzYhnX09qElZICOlIFLCsySWv
fRs6GL5tKxGr+G/MpkShnYyR2n7BAkl/t35r6uLWKC0FE9L21t4PYQvsDhW0sZBB
rVx2dQcjzJtyZFbggO6G5hob6bQddojz7x0JKh3Nw+MoiSRWyXo/t/JTbuO6w9i0
O6hrQ70HZ/ipGJ8+9uVS4Fc+jpe2Zi9qzxYgkQY7pr3KDBVGfJWkloVKzpBQybrU
du31ONJdFQoMgb9zQ8Pbwa8ZiWGoQ97Beh58fwIDAQABAoIBAAaK3uBDP1C6qW1n
SoLUX7/UdIikSeregGFlnMnIU7SxTo57X2PQqta0l5Yq+G+ozKlPyTBT+2P/kPWG
dFzsYpu4MJyjdr40OGWJoTCRZ3zZ2LttzNaYXvyt6EyjwHQXx3za7HTDbnVZtETR
0YRBQSZZ34ZFCQgFjF2Aq7p4sB7KTbxZKZ2hrrupfaHp9fUbd4ZYXMCucCUQzjFe
xcmti3K3Pr92pMcdQ6i6Lb3ayfy5I1We6GagiZoql8tkeOJJFOfcFB0d07pN3dVm
scwBLmBFWqBFo4BtyUd0Y+1uW54sAre1GTzcqbueTQG6UPltWteL+YUzXQQDssXj
BzSZHrkCgYEA9B+THPwktr6lTf1ljcatcQMpn+f9bDZ0t3bzIGWulMub/+AF6I3P
r27F5YAy8YULDwI/e900CrdnK+xHOdUM9643IGG6AwUPxSeNJ4WZ+O8mGNbgs94E
9y4aQXgG1h3CKd+1AmAcCpwHXjBgNx2VBMqYZ8KCuNLNa0aMUJDWlGkCgYEA1xC/
BxARP/2CG9Vk1CNlRA5tdPL6tLye+2cKmxJy+awPUG14YPpOlj76jtU9aulybktp
eVLKZYyVjrLpkMQ37WRVWQOWxHfdXGG9Vq0fF5j1cBg8qxuFqAkFo9O0V/vqwdWa
G0BKvSTq7wnK29FcOrkku4YhhpkXy7hegITgzKcCgYAf9dJIxSn5UtRJdZdKDGzA
ku1sJe8jr61wJ36FC0rj6BQwV5/uZkJ+cT4vYa1JuWVNPboZ+UfK71/ufCyHAcGE
26YT8zdrFcqOwTLVrcQOtyCBuAALDFISGlMNpy0d8x9sZAFKolKJgQvl5Odzz8em
rO9vBiQfFloWZVIRaiTtoQKBgF0aF8hj8UPFaBTKjWq0o/sRT9sn8NZbLWviEJpP
I0zoanzD1zAMTAcI3okE0SC+TNZoeRGXgJzzfi8XTrtn5lozbCsrvZHx3fdHLKMg
MOyTP/U12NWuBW9X8IQaeuD34onlAWC4tWIqYDX5BEOi341gZwFzMIJHNiDwAKEc
ZQDTAoGBAOc8bFLm4Na5GqEUruT2SoHkumVeRWX4RaoR8laAvxq8xakVmC5+IZKr
nTJ+Y51pQ7W+MbfMdj9S1SY+Z4uL+4N1I1fqvBHsq5QO1phmVUvstgI8NkVtAe7Q
GfDzHsjsn7hh+kGftqmzbl6IvDcocSlZzJ2OmbP9Udo9TVW0e4XP
-----END RSA PRIVATE KEY-----
""";

    // openssl rsa -in dev.pem -pubout -outform DER  (162 bytes)
    public const string DevicePublicSpkiHex =
        "30819f300d06092a864886f70d010101050003818d0030818902818100e07aae7a04eaea27a34a5c36b99a9dc6a3f7c1"
        + "6c3bcecbd3095f4d7753961674827a89f9dbd7435139430793fdda0446987450946275879edb9d930e69b62cdb323e70"
        + "8a7717a83d66a41cd56aa98b61e22820c6c2927df0e7b6f005e36a4440235d0ebf0e5ab0461096a2dea0c9d0c4d8758c"
        + "b1ef27214293991eefd9f8613d0203010001";

    // openssl rsa -in srv.pem -pubout -outform DER  (294 bytes)
    public const string ServerPublicSpkiHex =
        "30820122300d06092a864886f70d01010105000382010f003082010a0282010100cd167cb0d484a9ffeb423451c3fc82"
        + "3e31fe0217e10a3b2f22b96b93119629a7faacebe2d8d16bf8f63ed79686119836e4826f62d4b9848010799326f7d38c"
        + "b613eecd88675f4f6a12564808e94814b0acc925af7d1b3a18be6d2b11abf86fcca644a19d8c91da7ec102497fb77e6b"
        + "eae2d6282d0513d2f6d6de0f610bec0e15b4b19041ad5c76750723cc9b726456e080ee86e61a1be9b41d7688f3ef1d09"
        + "2a1dcdc3e328892456c97a3fb7f2536ee3bac3d8b43ba86b43bd0767f8a9189f3ef6e552e0573e8e97b6662f6acf1620"
        + "91063ba6bdca0c15467c95a496854ace9050c9bad476edf538d25d150a0c81bf7343c3dbc1af198961a843dec17a1e7c"
        + "7f0203010001";

    public const string SessionKeysHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1ffa08a1a2a3a4a5a6";

    // openssl pkeyutl -encrypt -pubin -inkey dev.pub.pem -in session.bin  (random padding; fixed once)
    public const string SessionCiphertextHex =
        "3db03fe9e1ff0ab79b2b3965326c3f578747ab655ac06957acdaa002eb63bb5885fc459ee134fba2c98e83f06787c331"
        + "c54e4263b536eed799b7a359fd3e975f59b207fddbe9a26386ea20e80932b52682e519a5e0a3d6c8ce72073582f72e3f"
        + "34f3028a93f3af9c5aa6e97ec2e63c53d2c8155593d4a0105a79a3ada23eb52e";

    // openssl dgst -sha1 -mac HMAC -macopt hexkey:$SESSION -binary sessct.bin
    public const string SessionHmacHex = "3abff15018c4a292204903895bc3edaa0979c2dc";

    // openssl pkeyutl -sign -inkey srv.pem -pkeyopt rsa_padding_mode:pkcs1 -in hmac.bin  (type 1 padding, no DigestInfo)
    public const string SessionSignatureHex =
        "9bc36ebae4911f1b71b831179972b4e95fd9b49b3a50af1f548788e6147c94ce5f66fcfda8379406c37885bfa4ef8a8b"
        + "0017b5e8273c92e331e2e5f362b877b5531d7fcc33643e77c5b95c2168f8dd463d42911d984e16668ce3854f3308f70c"
        + "89d2759c88ad783fac6426c3c9b4259087861a2d1df2e200131dbdeb01dd8c6e650ea3ae0174be3834ad01de5604712c"
        + "d025e290ccad2dce4794b6b1ee05e7b53012f9b9429584afcbeb4d543aa700ad918482446d93eb19f8be51bb6e02cc0a"
        + "f24c1c1734577a1b9bbbd16ecd5dce4af94ed9cf6219895519471cc05bae245fb3ece38f4f814820029e999b09381a2c"
        + "a5911463bf928e2b836895e6e8399184";

    public const string NonceHex = "030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d14";

    public const string DeviceIdHex = "0123456789abcdef01234567";

    // openssl pkeyutl -encrypt -pubin -inkey srv.pub.pem -in (nonce ‖ device id ‖ dev.pub.der)
    public const string IdentificationCiphertextHex =
        "4e1a35369ca9cb0be457576891619cc464a2c28c85a7080801d7ddb46284193297c5094388fa6052242b3ce06db30ad8"
        + "c1921d9ae20984168a16ac0226ae211ba660f9ec1e6a5a15346c6bf9478cfb2888ad7ba693b0fdd0970c6fea29cff208"
        + "8b73c1a28ab51c28cb7621c22ffe5f2dec4f991b430b2c3adaeae132ad3051505b0cb926423c2c0cdb57f767c02a65bb"
        + "c5c50ef9218efc0160f19c6c34ba7b5bf2fbec0dae300f7b5822b6dfee6bcd3235ea0a568cceae66eaa25e5ec3691bbf"
        + "956f9f624cef0c0508243f9daaec4d05ece0c396554927bd70324d2bb96e96f057d749d10375703808b40c58bb36920b"
        + "323556323ebabc2720325892b91449c9";

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);
}
