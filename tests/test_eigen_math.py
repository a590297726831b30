"""``harness.reference.eigen_math``: TF's own float32 exp, log and log_softmax, bit for bit.

The expected bits were recorded from TF 2.21.0 on x86-64 (``tf.exp``, ``tf.math.log``,
``tf.nn.log_softmax``); NumPy's float32 exp and log differ from them on several of these
inputs, which is why the module exists (TF's dense CTC gradient: ``ctc.dense_gradient``).
"""
import numpy as np

from harness.reference import eigen_math

EXP_X = np.array([
    3233724519, 3222276457, 3229211686, 3217771749, 3183034900, 3215368342, 3220608855, 3199269489,
    3190923733, 3225428734, 3226551699, 3227507202, 3207520337, 3234954296, 3230234594, 3233893516], np.uint32).view(np.float32)
EXP_TF = np.array([
    992547662, 1037548498, 1017456202, 1045507502, 1063902199, 1049315818, 1041573730, 1060450118,
    1062681332, 1028357670, 1025225152, 1022882694, 1057049227, 985407267, 1012873570, 991689779], np.uint32).view(np.float32)
LOG_X = np.array([
    1098944980, 1082724968, 1090638524, 1098938954, 1090349736, 1097238869, 1095179014, 1100401617,
    1100919706, 1097451896, 1099050493, 1079953034, 1097231353, 1099446970, 1090858676, 1093967152], np.uint32).view(np.float32)
LOG_TF = np.array([
    1077000921, 1069168101, 1074134347, 1076997920, 1074032485, 1076542865, 1075928090, 1077669737,
    1077884052, 1076601591, 1077053117, 1067427565, 1076540778, 1077243643, 1074241496, 1075519259], np.uint32).view(np.float32)
SOFT_X = np.array([
    3223507829, 1067265702, 3222875576, 3206878877, 3160248297, 3211002623, 3185414561, 1076583662,
    3213120301, 3223400698, 3228244604, 3201412661, 3207879432, 1057470975, 3211637112, 3212120090,
    3216549926, 3213168378, 1050940024, 3208822168, 1045279861, 1081301530, 1064652537, 3226058064,
    1079895116, 1060246579, 3220242550, 1072182364, 1024500352, 3214769910, 3215076772, 3221115276,
    1036327017, 1074319100, 3206966587, 1062696514, 1081087275, 3223025589, 1057217015, 3206341965,
    3221722548, 3221442294, 3170528906, 1063134040, 3213366853, 1038010527, 1069081259, 1058526944,
    1071538475, 1064057868, 1064950753, 1080676133, 1067419697, 1048876053], np.uint32).view(np.float32).reshape(3, 2, 9)
SOFT_TF = np.array([
    3232976351, 3219808746, 3232660224, 3228372463, 3225724376, 3229403400, 3226121429, 3200473807,
    3229808879, 3229550180, 3232004083, 3220182626, 3221941292, 3211762602, 3222880712, 3223001456,
    3225037182, 3223346408, 3229863536, 3232130890, 3230114292, 3206747217, 3227437936, 3237146175,
    3212372873, 3228539425, 3234484148, 3214487480, 3225317248, 3230120130, 3230196846, 3231706472,
    3225061703, 3210710072, 3228192089, 3221935226, 3188473209, 3234474076, 3226985093, 3230665003,
    3233822556, 3233682428, 3229273568, 3225505837, 3231609363, 3229631836, 3224047529, 3227618118,
    3222818920, 3226235387, 3226012166, 3203239623, 3224878309, 3229019771], np.uint32).view(np.float32).reshape(3, 2, 9)


def test_exp_is_tfs_on_whole_packets_and_the_tail():
    assert np.array_equal(eigen_math.exp(EXP_X), EXP_TF)  # 16 = 2 packets
    head = eigen_math.exp(EXP_X[:13])  # 1 packet (Eigen's polynomial), a tail of 5 (the C library's expf)
    assert np.array_equal(head[:8], EXP_TF[:8])
    assert np.array_equal(head[8:], np.exp(EXP_X[8:13].astype(np.float64)).astype(np.float32))
    assert np.sum(np.exp(EXP_X) != EXP_TF) >= 4


def test_log_is_tfs():
    assert np.array_equal(eigen_math.log(LOG_X), LOG_TF)
    head = eigen_math.log(LOG_X[:11])
    assert np.array_equal(head[:8], LOG_TF[:8])
    assert np.array_equal(head[8:], np.log(LOG_X[8:11].astype(np.float64)).astype(np.float32))


def test_log_softmax_is_tfs_kernel():
    assert np.array_equal(eigen_math.log_softmax(SOFT_X), SOFT_TF)


def test_special_values_and_flush_to_zero():
    x = np.array([-np.inf, -200, -104.5, -90, 0, 89, np.inf, np.nan], np.float32)
    e = eigen_math.exp(x)
    assert e[:4].tolist() == [0, 0, 0, 0] and e[4] == 1 and e[5] == np.inf == e[6] and np.isnan(e[7])
    tiny = np.finfo(np.float32).tiny
    y = np.array([0, -0.0, tiny / 4, -1, np.inf, np.nan, 1, 2], np.float32)
    lg = eigen_math.log(y)
    assert lg[:3].tolist() == [-np.inf] * 3 and np.isnan(lg[3]) and lg[4] == np.inf and np.isnan(lg[5])
    assert lg[6] == 0 and lg[7] == np.float32(np.log(2))


def test_row_sum_order_and_logsumexp():
    x = np.float32([1e8, 1, -1e8, 1, 3, 5, 7, 9, 0.5])
    # lanes ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), then the leftover 0.5 first
    expected = np.float32(0.5) + ((np.float32(1e8 + 3) + np.float32(-1e8 + 7)) + (np.float32(6) + np.float32(10)))
    assert eigen_math.row_sum(x) == expected
    rows = np.random.default_rng(0).normal(size=(5, 40)).astype(np.float32)
    np.testing.assert_allclose(eigen_math.row_sum(rows), rows.sum(-1), rtol=1e-6)
    np.testing.assert_allclose(eigen_math.logsumexp(rows), np.log(np.exp(rows.astype(np.float64)).sum(-1)), rtol=1e-6)
    assert eigen_math.logsumexp(np.full((2, 3), -np.inf, np.float32)).tolist() == [-np.inf, -np.inf]
